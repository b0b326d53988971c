# The mesh's policy, owned by the platform team and derived from the runtimes'
# specifications: an admin partition per runtime, and for every service its
# service-defaults, its intentions (callers = services listing it as an upstream, everyone
# else denied), and for services with several versions a resolver (one subset per version)
# and a splitter (the weights in the specification). Partitions export the services that
# callers in other partitions use.

module "spec" {
  source = "../../modules/lab_spec"

  terraform_dir = "${path.root}/../.."
}

locals {
  services    = module.spec.services
  versioned   = { for name, s in local.services : name => s if length(s.versions) > 1 }
  runtimes    = module.spec.runtimes
  partitions  = { for name, r in local.runtimes : r.consul_partition => r }
  all_service = "*"
}

resource "consul_admin_partition" "this" {
  for_each = local.partitions

  name        = each.key
  description = "Runtime ${each.value.name} (${each.value.kind} in ${each.value.region}, account ${each.value.account})"
}

resource "consul_config_entry" "service_defaults" {
  for_each = local.services

  kind      = "service-defaults"
  name      = each.key
  partition = consul_admin_partition.this[each.value.partition].name
  namespace = "default"

  config_json = jsonencode({
    Protocol = each.value.protocol
  })
}

resource "consul_config_entry" "service_resolver" {
  for_each = local.versioned

  kind      = "service-resolver"
  name      = each.key
  partition = consul_admin_partition.this[each.value.partition].name
  namespace = "default"

  config_json = jsonencode({
    DefaultSubset = each.value.versions[0]
    Subsets = {
      for v in each.value.versions : v => { Filter = "Service.Meta.version == ${v}" }
    }
  })

  depends_on = [consul_config_entry.service_defaults]
}

resource "consul_config_entry" "service_splitter" {
  for_each = local.versioned

  kind      = "service-splitter"
  name      = each.key
  partition = consul_admin_partition.this[each.value.partition].name
  namespace = "default"

  config_json = jsonencode({
    Splits = [
      for v in each.value.versions : { Weight = lookup(each.value.traffic, v, 0), ServiceSubset = v }
    ]
  })

  depends_on = [consul_config_entry.service_resolver]

  lifecycle {
    # The specification sets the first weights; from then on the release step (canary
    # analysis and rollback) moves them, and Terraform must not put them back.
    ignore_changes = [config_json]
  }
}

resource "consul_config_entry" "service_intentions" {
  # Services nobody calls through the mesh (the store is reached through the ingress)
  # only need the default deny.
  for_each = { for name, i in module.spec.intentions : name => i if length(i.sources) > 0 }

  kind      = "service-intentions"
  name      = each.key
  partition = consul_admin_partition.this[each.value.partition].name
  namespace = "default"

  config_json = jsonencode({
    Sources = [
      for src in each.value.sources : {
        Name      = src.name
        Partition = src.partition
        Namespace = "default"
        Action    = "allow"
      }
    ]
  })

  depends_on = [consul_config_entry.service_defaults]
}

# Default deny inside every partition: only the intentions above let traffic through.
resource "consul_config_entry" "deny_by_default" {
  for_each = local.partitions

  kind      = "service-intentions"
  name      = local.all_service
  partition = consul_admin_partition.this[each.key].name
  namespace = "default"

  config_json = jsonencode({
    Sources = [{ Name = local.all_service, Namespace = "default", Action = "deny" }]
  })
}

resource "consul_config_entry" "exported_services" {
  for_each = { for partition, services in module.spec.exports : partition => services if length(flatten(values(services))) > 0 }

  kind      = "exported-services"
  name      = each.key
  partition = consul_admin_partition.this[each.key].name

  config_json = jsonencode({
    Services = [
      for service, consumers in each.value : {
        Name      = service
        Namespace = "default"
        Consumers = [for p in consumers : { Partition = p }]
      } if length(consumers) > 0
    ]
  })
}
