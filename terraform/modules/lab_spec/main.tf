# Reads the lab's specification files, the same ones soa_sdk.tf.lab_spec reads:
# every runtime_*/runtime.auto.tfvars.json, and shared_services/access.json.
# Runtimes added by step 5 (a new folder) are picked up by the next plan, no edit needed.
#
# The rules are soa_sdk.tf.lab_spec's: runtimes in folder order; a service may run in several
# runtimes (step 5's failover copies) when every runtime declares it the same way (all fields
# but replicas); its primary is the first runtime that runs it, the others its failover
# targets; a caller may call each runtime that runs one of its upstreams.

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
  service_groups = { for s in local.service_list : s.name => s... }

  # Each service by name: its primary's declaration (runtime, partition) and every placement,
  # the primary first.
  services = {
    for name, group in local.service_groups : name => merge(group[0], {
      placements = [for s in group : { runtime = s.runtime, partition = s.partition, replicas = s.replicas }]
    })
  }

  # What two runtimes must agree on to run the same service: everything but these.
  per_placement = { runtime = "", partition = "", replicas = 0 }
  declared_differently = sort([
    for name, group in local.service_groups : name
    if anytrue([for s in group : merge(s, local.per_placement) != merge(group[0], local.per_placement)])
  ])

  # A service may call exactly the upstreams it lists, in every partition that runs them:
  # one entry per (partition, destination), keyed "partition/name".
  intentions = merge([
    for destination, d in local.services : {
      for p in d.placements : "${p.partition}/${destination}" => {
        name      = destination
        partition = p.partition
        sources = [
          for caller in local.service_list : { name = caller.name, partition = caller.partition }
          if contains(caller.upstreams, destination)
        ]
      }
    }
  ]...)

  # What each partition must export so that callers in other partitions can reach it.
  exports = {
    for r in local.runtime_list : r.consul_partition => {
      for s in r.services : s.name => distinct([
        for src in local.intentions["${r.consul_partition}/${s.name}"].sources : src.partition
        if src.partition != r.consul_partition
      ])
    }
  }

  # Services that run in several runtimes: the primary's partition fails over to the others'.
  failover = {
    for name, s in local.services : name => {
      partition = s.partition
      targets   = [for p in slice(s.placements, 1, length(s.placements)) : p.partition]
    } if length(s.placements) > 1
  }

  access = jsondecode(file("${var.terraform_dir}/shared_services/access.json"))
}
