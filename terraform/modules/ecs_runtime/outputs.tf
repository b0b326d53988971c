output "cluster_name" {
  description = "The ECS cluster's name."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "The ECS cluster's ARN."
  value       = aws_ecs_cluster.this.arn
}

output "workloads" {
  description = "ECS service ARNs by workload (service-version)."
  value       = { for key, service in aws_ecs_service.this : key => service.id }
}

output "security_group_id" {
  description = "The security group of the runtime's services."
  value       = aws_security_group.this.id
}

output "task_role_arn" {
  description = "The IAM role the workloads run as (no permissions of its own)."
  value       = aws_iam_role.task.arn
}

output "log_group_name" {
  description = "The CloudWatch Logs group of the workloads."
  value       = aws_cloudwatch_log_group.this.name
}
