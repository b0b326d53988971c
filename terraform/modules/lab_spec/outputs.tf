output "runtimes" {
  description = "Every runtime's specification, by runtime name."
  value       = local.runtimes

  precondition {
    condition     = length(local.runtime_list) == length(local.runtimes)
    error_message = "Two runtime folders declare the same runtime name."
  }

  precondition {
    condition     = length(distinct([for r in local.runtime_list : r.consul_partition])) == length(local.runtime_list)
    error_message = "Two runtimes declare the same Consul admin partition."
  }
}

output "services" {
  description = "Every service of the mesh by name: its primary's declaration (runtime and partition added) and its placements (runtime, partition, replicas), the primary first."
  value       = local.services

  precondition {
    condition     = length(local.declared_differently) == 0
    error_message = "A service is declared differently by two runtimes (${join(", ", [for name in local.declared_differently : "'${name}' in ${join(" and ", distinct([for s in local.service_groups[name] : s.runtime]))}"])}); a service may run in several runtimes only when each declares it the same way (all fields but replicas)."
  }

  precondition {
    condition     = alltrue([for s in local.service_list : alltrue([for u in s.upstreams : contains(keys(local.services), u)])])
    error_message = "A service lists an upstream that no runtime runs."
  }
}

output "intentions" {
  description = "For each destination service in each partition that runs it, keyed \"partition/name\": its name, partition and the services (name, partition) allowed to call it."
  value       = local.intentions
}

output "exports" {
  description = "For each partition: each of its services and the other partitions that call it."
  value       = local.exports
}

output "failover" {
  description = "For each service that runs in several runtimes: its primary's partition and the partitions it fails over to, in folder order."
  value       = local.failover
}

output "access" {
  description = "The prod database and Boundary's org, groups, users and targets (shared_services/access.json)."
  value       = local.access
}
