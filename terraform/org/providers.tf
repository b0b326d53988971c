# The management account: the only account that can create the organization and its
# accounts. allowed_account_ids stops an apply with credentials for any other account.
provider "aws" {
  alias               = "management"
  region              = var.region
  allowed_account_ids = [var.management_account_id]

  default_tags {
    tags = merge(var.tags, {
      Project   = "soa-lab"
      Account   = "management"
      ManagedBy = "terraform"
      Source    = "terraform/org"
    })
  }
}
