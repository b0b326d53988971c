# The frontend account. CloudFront, its WAF and their logs are global services homed in
# us-east-1, so this provider is pinned there whatever the runtimes' regions.
provider "aws" {
  alias               = "frontend"
  region              = "us-east-1"
  allowed_account_ids = [var.account_id]

  assume_role {
    role_arn     = "arn:${var.aws_partition}:iam::${var.account_id}:role/${var.assume_role_name}"
    session_name = "terraform-${var.frontend.name}"
  }

  default_tags {
    tags = merge(var.tags, {
      Project   = "soa-lab"
      Runtime   = var.frontend.name
      Account   = var.frontend.account
      ManagedBy = "terraform"
      Source    = "terraform/runtime_frontend"
    })
  }
}
