output "partitions" {
  description = "The admin partitions, by name, with the runtime each serves."
  value       = { for name, r in local.partitions : name => r.name }
}

output "intentions" {
  description = "Who may call whom: for each destination service in each partition that runs it (key \"partition/name\"), its allowed callers (name, partition)."
  value       = module.spec.intentions
}

output "failover" {
  description = "For each service that runs in several runtimes: its primary's partition and the partitions it fails over to."
  value       = module.spec.failover
}

output "splits" {
  description = "The initial traffic weights per version of each versioned service, by \"partition/name\"."
  value       = { for key, s in local.versioned : key => s.traffic }
}
