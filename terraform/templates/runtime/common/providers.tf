# The runtime's own account, reached by assuming the role the organization created in it.
# allowed_account_ids stops an apply whose role resolves to any other account.
provider "aws" {
  alias               = "runtime"
  region              = var.runtime.region
  allowed_account_ids = [var.account_id]

  assume_role {
    role_arn     = "arn:${var.aws_partition}:iam::${var.account_id}:role/${var.assume_role_name}"
    session_name = "terraform-${var.runtime.name}"
  }

  default_tags {
    tags = merge(var.tags, {
      Project   = "soa-lab"
      Runtime   = var.runtime.name
      Account   = var.runtime.account
      ManagedBy = "terraform"
      Source    = "terraform/${replace(var.runtime.name, "-", "_")}"
    })
  }
}
