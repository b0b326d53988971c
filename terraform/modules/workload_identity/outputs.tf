output "role_arn" {
  description = "The role workloads assume with AssumeRoleWithWebIdentity."
  value       = aws_iam_role.this.arn
}

output "oidc_provider_arn" {
  description = "The account's OIDC identity provider for Vault."
  value       = aws_iam_openid_connect_provider.this.arn
}
