output "bucket" {
  description = "The S3 bucket CI uploads the site to."
  value       = module.site.bucket
}

output "distribution_id" {
  description = "The CloudFront distribution (for invalidations)."
  value       = module.site.distribution_id
}

output "url" {
  description = "The site's URL."
  value       = "https://${module.site.domain_name}/"
}
