output "organization_id" {
  description = "The id of the AWS Organization (o-...)."
  value       = aws_organizations_organization.this.id
}

output "root_id" {
  description = "The id of the organization's root (r-...)."
  value       = aws_organizations_organization.this.roots[0].id
}

output "organizational_unit_ids" {
  description = "Organizational unit ids (ou-...) by name."
  value       = local.ou_ids
}

output "account_ids" {
  description = "Member account ids by account name; the runtime and shared-services roots take theirs as account_id."
  value       = { for name, account in aws_organizations_account.this : name => account.id }
}

output "member_role_arns" {
  description = "The role each runtime's provider assumes, by account name."
  value = {
    for name, account in aws_organizations_account.this :
    name => "arn:${data.aws_partition.current.partition}:iam::${account.id}:role/${var.member_role_name}"
  }
}

output "trail_bucket" {
  description = "The S3 bucket that receives the organization trail's logs."
  value       = aws_s3_bucket.trail.id
}
