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
  description = "Every service of the mesh by name, with its runtime and partition added."
  value       = local.services

  precondition {
    condition     = length(local.service_list) == length(local.services)
    error_message = "A service name is declared by two runtimes; names are unique across the mesh."
  }

  precondition {
    condition     = alltrue([for s in local.service_list : alltrue([for u in s.upstreams : contains(keys(local.services), u)])])
    error_message = "A service lists an upstream that no runtime runs."
  }
}

output "intentions" {
  description = "For each destination service: its partition and the services (name, partition) allowed to call it."
  value       = local.intentions
}

output "exports" {
  description = "For each partition: each of its services and the other partitions that call it."
  value       = local.exports
}

output "access" {
  description = "The prod database and Boundary's org, groups, users and targets (shared_services/access.json)."
  value       = local.access
}
