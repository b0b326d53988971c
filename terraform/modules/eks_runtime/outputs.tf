output "cluster_name" {
  description = "The EKS cluster's name."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "The private endpoint of the Kubernetes API."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority" {
  description = "The cluster's CA certificate, base64-encoded."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "workloads" {
  description = "What the consul-k8s deployment runs, by workload (service-version): service, version, port, replicas, image, upstreams."
  value       = local.workloads
}

output "consul_partition" {
  description = "The Consul admin partition the cluster's workloads join (consul-k8s adminPartitions.name)."
  value       = var.consul.partition
}

output "node_role_arn" {
  description = "The IAM role of the managed nodes."
  value       = aws_iam_role.nodes.arn
}
