output "auditor_role_arn" {
  description = "The role auditors assume to read recordings."
  value       = aws_iam_role.auditor.arn
}

output "bucket_policy" {
  description = "The bucket policy applied to the recordings bucket."
  value       = aws_s3_bucket_policy.this.policy
}
