output "autoscaling_groups" {
  description = "Auto Scaling group names by workload (service-version)."
  value       = { for key, group in aws_autoscaling_group.this : key => group.name }
}

output "security_group_id" {
  description = "The security group of the runtime's instances."
  value       = aws_security_group.this.id
}

output "instance_role_arn" {
  description = "The IAM role of the instances (SSM and CloudWatch agent only)."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "The CloudWatch Logs group of the workloads."
  value       = aws_cloudwatch_log_group.this.name
}
