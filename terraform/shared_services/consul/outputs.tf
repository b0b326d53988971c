output "partitions" {
  description = "The admin partitions, by name, with the runtime each serves."
  value       = { for name, r in local.partitions : name => r.name }
}

output "intentions" {
  description = "Who may call whom: for each destination service, its allowed callers (name, partition)."
  value       = module.spec.intentions
}

output "splits" {
  description = "The initial traffic weights per version of each versioned service."
  value       = { for name, s in local.versioned : name => s.traffic }
}
