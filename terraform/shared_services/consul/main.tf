# The mesh's policy, owned by the platform team and derived from the runtimes'
# specifications: an admin partition per runtime, and for every service, in each partition
# that runs it, its service-defaults, its intentions (callers = services listing it as an
# upstream, everyone else denied), and for services with several versions a resolver (one
# subset per version) and a splitter (the weights in the specification). A service that runs
# in several runtimes (step 5) gets, in its primary's partition, a resolver that fails over
# to the other partitions. Partitions export the services that callers in other partitions
# use (the same entries soa_sdk.runtime.mesh writes).

module "spec" {
  source = "../../modules/lab_spec"

  terraform_dir = "${path.root}/../.."
}

locals {
  services   = module.spec.services
  runtimes   = module.spec.runtimes
  partitions = { for name, r in local.runtimes : r.consul_partition => r }
  # Every service in every partition that runs it, keyed "partition/name" like the
  # intentions; the primary's declaration holds for its copies (they may differ in replicas).
  placements = merge([
    for name, s in local.services : {
      for p in s.placements : "${p.partition}/${name}" => merge(s, {
        partition = p.partition
        failover  = p.partition == s.partition ? lookup(module.spec.failover, name, null) : null
      })
    }
  ]...)
  versioned = { for key, s in local.placements : key => s if length(s.versions) > 1 }
  # A resolver where it has subsets to define (several versions) or a failover to declare.
  resolved    = { for key, s in local.placements : key => s if length(s.versions) > 1 || s.failover != null }
  all_service = "*"

  # Each runtime's ingress gateway ("<runtime>-ingress", in the runtime's partition) calls the
  # runtime's entry point, its first service; with the callers the services declare, that
  # is every source an intention allows.
  ingress_sources = {
    for name, r in local.runtimes : "${r.consul_partition}/${r.services[0].name}" => {
      name      = "${name}-ingress"
      partition = r.consul_partition
    } if length(r.services) > 0
  }
  intentions = {
    for key, i in module.spec.intentions : key => merge(i, {
      sources = concat(i.sources, contains(keys(local.ingress_sources), key) ? [local.ingress_sources[key]] : [])
    })
  }
}

resource "consul_admin_partition" "this" {
  for_each = local.partitions

  name        = each.key
  description = "Runtime ${each.value.name} (${each.value.kind} in ${each.value.region}, account ${each.value.account})"
}

resource "consul_config_entry" "service_defaults" {
  for_each = local.placements

  kind      = "service-defaults"
  name      = each.value.name
  partition = consul_admin_partition.this[each.value.partition].name
  namespace = "default"

  config_json = jsonencode({
    Protocol = each.value.protocol
  })
}

resource "consul_config_entry" "service_resolver" {
  for_each = local.resolved

  kind      = "service-resolver"
  name      = each.value.name
  partition = consul_admin_partition.this[each.value.partition].name
  namespace = "default"

  # merge() skips the null parts: subsets only for several versions, a failover only in
  # the primary's partition of a service that runs in several runtimes.
  config_json = jsonencode(merge(
    length(each.value.versions) > 1 ? {
      DefaultSubset = each.value.versions[0]
      Subsets = {
        for v in each.value.versions : v => { Filter = "Service.Meta.version == ${v}" }
      }
    } : null,
    each.value.failover != null ? {
      Failover = {
        (local.all_service) = {
          Targets = [for p in each.value.failover.targets : { Partition = p, Namespace = "default" }]
        }
      }
    } : null,
  ))

  depends_on = [consul_config_entry.service_defaults]
}

resource "consul_config_entry" "service_splitter" {
  for_each = local.versioned

  kind      = "service-splitter"
  name      = each.value.name
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
  # Services nobody calls (neither a service nor an ingress) only need the default deny.
  # Keyed "partition/name": a service that runs in several partitions has intentions in each.
  for_each = { for key, i in local.intentions : key => i if length(i.sources) > 0 }

  kind      = "service-intentions"
  name      = each.value.name
  partition = consul_admin_partition.this[each.value.partition].name
  namespace = "default"

  # Precedence and Type are what Consul computes for each source (exact names: 9); written
  # here because the provider compares config_json with what Consul returns, which has them
  # (without them every plan shows a change: hashicorp/terraform-provider-consul#281).
  config_json = jsonencode({
    Sources = [
      for src in each.value.sources : {
        Name       = src.name
        Partition  = src.partition
        Namespace  = "default"
        Action     = "allow"
        Precedence = 9
        Type       = "consul"
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

  # Consul's precedence for a wildcard source on a wildcard destination is 5 (see above).
  config_json = jsonencode({
    Sources = [{ Name = local.all_service, Namespace = "default", Action = "deny", Precedence = 5, Type = "consul" }]
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
