output "bucket" {
  description = "The S3 bucket CI uploads the site to."
  value       = aws_s3_bucket.this.id
}

output "distribution_id" {
  description = "The CloudFront distribution's id (for invalidations)."
  value       = aws_cloudfront_distribution.this.id
}

output "domain_name" {
  description = "The distribution's domain name (https://<domain_name>/)."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "web_acl_arn" {
  description = "The WAF web ACL in front of the distribution."
  value       = aws_wafv2_web_acl.this.arn
}
