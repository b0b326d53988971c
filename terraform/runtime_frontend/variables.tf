variable "frontend" {
  description = "The frontend's specification, loaded from frontend.auto.tfvars.json: its name, organization account, site name and CloudFront price class."
  type = object({
    name        = string
    account     = string
    site        = string
    price_class = string
  })

  validation {
    condition     = can(regex("^runtime-[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$", var.frontend.name))
    error_message = "frontend.name must be 'runtime-' followed by up to 24 lowercase letters, digits and hyphens."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,48}[a-z0-9]$", var.frontend.account))
    error_message = "frontend.account must name an account of the organization specification."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.frontend.site))
    error_message = "frontend.site must be 3-32 lowercase letters, digits and hyphens."
  }

  validation {
    condition     = contains(["PriceClass_All", "PriceClass_200", "PriceClass_100"], var.frontend.price_class)
    error_message = "frontend.price_class must be PriceClass_All, PriceClass_200 or PriceClass_100."
  }
}

variable "api_origin" {
  description = "The store's public API behind /api/*: the domain name of the store runtime's ingress gateway load balancer (for example runtime_ecs's), how CloudFront connects to it (https-only, http-only or match-viewer) and on which ports."
  type = object({
    domain_name = string
    protocol    = optional(string, "https-only")
    http_port   = optional(number, 80)
    https_port  = optional(number, 443)
  })

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$", var.api_origin.domain_name))
    error_message = "api_origin.domain_name must be a DNS name without scheme, port or path (the ingress load balancer's)."
  }

  validation {
    condition     = var.api_origin.protocol != "http-only"
    error_message = "api_origin.protocol must be https-only or match-viewer: the store's API carries shoppers' orders, so CloudFront reaches it over TLS."
  }
}

variable "account_id" {
  description = "The 12-digit id of the frontend's AWS account (output account_ids of terraform/org)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id."
  }
}

variable "assume_role_name" {
  description = "The role Terraform assumes in the frontend account."
  type        = string
  default     = "OrganizationAccountAccessRole"

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.assume_role_name))
    error_message = "assume_role_name must be a valid IAM role name."
  }
}

variable "aws_partition" {
  description = "The AWS partition of the account (aws, aws-us-gov, aws-cn)."
  type        = string
  default     = "aws"

  validation {
    condition     = contains(["aws", "aws-us-gov", "aws-cn"], var.aws_partition)
    error_message = "aws_partition must be aws, aws-us-gov or aws-cn."
  }
}

variable "tags" {
  description = "Tags added to every resource, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
