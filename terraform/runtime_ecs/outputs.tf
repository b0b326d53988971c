output "runtime" {
  description = "The runtime's name, kind, region and Consul admin partition."
  value = {
    name      = var.runtime.name
    kind      = var.runtime.kind
    region    = var.runtime.region
    partition = var.runtime.consul_partition
  }
}

output "vpc_id" {
  description = "The runtime's VPC."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "The subnets the workloads run in."
  value       = module.network.private_subnet_ids
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = module.compute.cluster_name
}

output "workloads" {
  description = "ECS services by workload (service-version)."
  value       = module.compute.workloads
}

output "workload_role_arn" {
  description = "The role workloads assume with a Vault identity token (no static keys)."
  value       = module.workload_identity.role_arn
}
