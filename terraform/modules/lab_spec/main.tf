# Reads the lab's specification files, the same ones soa_sdk.tf.spec reads:
# every runtime_*/runtime.auto.tfvars.json, and shared_services/access.json.
# Runtimes added by step 5 (a new folder) are picked up by the next plan, no edit needed.

locals {
  runtime_files = sort(fileset(var.terraform_dir, "*/runtime.auto.tfvars.json"))
  runtime_list  = [for f in local.runtime_files : jsondecode(file("${var.terraform_dir}/${f}")).runtime]
  # Grouping (...) keeps duplicates from failing here, so that the outputs' preconditions
  # can say what is wrong in the lab's own words.
  runtimes = { for name, group in { for r in local.runtime_list : r.name => r... } : name => group[0] }

  service_list = flatten([
    for r in local.runtime_list : [
      for s in r.services : merge(s, { runtime = r.name, partition = r.consul_partition })
    ]
  ])
  services = { for name, group in { for s in local.service_list : s.name => s... } : name => group[0] }

  # A service may call exactly the upstreams it lists; nothing else is allowed.
  intentions = {
    for destination, d in local.services : destination => {
      partition = d.partition
      sources = [
        for caller in local.service_list : { name = caller.name, partition = caller.partition }
        if contains(caller.upstreams, destination)
      ]
    }
  }

  # What each partition must export so that callers in other partitions can reach it.
  exports = {
    for r in local.runtime_list : r.consul_partition => {
      for s in r.services : s.name => distinct([
        for src in local.intentions[s.name].sources : src.partition if src.partition != r.consul_partition
      ])
    }
  }

  access = jsondecode(file("${var.terraform_dir}/shared_services/access.json"))
}
