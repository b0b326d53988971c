variable "organization" {
  description = "The organization to build: its name, its organizational units (parent \"Root\" or another OU) and its member accounts (each placed in one OU). Loaded from organization.auto.tfvars.json, the specification file shared with soa_sdk."
  type = object({
    name        = string
    feature_set = optional(string, "ALL")
    organizational_units = list(object({
      name   = string
      parent = string
    }))
    accounts = list(object({
      name  = string
      email = string
      ou    = string
    }))
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,48}[a-z0-9]$", var.organization.name))
    error_message = "organization.name must be 3-50 characters of lowercase letters, digits and hyphens, starting with a letter."
  }

  validation {
    condition     = contains(["ALL", "CONSOLIDATED_BILLING"], var.organization.feature_set)
    error_message = "organization.feature_set must be ALL or CONSOLIDATED_BILLING."
  }

  validation {
    condition     = alltrue([for ou in var.organization.organizational_units : can(regex("^[A-Za-z0-9][A-Za-z0-9 _-]{0,127}$", ou.name)) && ou.name != "Root"])
    error_message = "Each organizational unit name must be 1-128 characters of letters, digits, spaces, '_' or '-', start with a letter or digit, and not be \"Root\"."
  }

  validation {
    condition     = length(distinct([for ou in var.organization.organizational_units : ou.name])) == length(var.organization.organizational_units)
    error_message = "Organizational unit names must be unique."
  }

  # Two levels are enough for this lab (e.g. Workloads/Prod); AWS allows five, but a
  # for_each cannot reference itself, so each level is its own resource block.
  validation {
    condition = alltrue([
      for ou in var.organization.organizational_units :
      ou.parent == "Root" || contains([for p in var.organization.organizational_units : p.name if p.parent == "Root"], ou.parent)
    ])
    error_message = "Each organizational unit's parent must be \"Root\" or a top-level organizational unit (two levels at most)."
  }

  validation {
    condition     = alltrue([for a in var.organization.accounts : can(regex("^[a-z][a-z0-9-]{1,48}[a-z0-9]$", a.name))])
    error_message = "Each account name must be 3-50 characters of lowercase letters, digits and hyphens, starting with a letter."
  }

  validation {
    condition     = length(distinct([for a in var.organization.accounts : a.name])) == length(var.organization.accounts)
    error_message = "Account names must be unique."
  }

  validation {
    condition     = alltrue([for a in var.organization.accounts : can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$", a.email)) && length(a.email) >= 6 && length(a.email) <= 64])
    error_message = "Each account needs a valid root email address of 6 to 64 characters."
  }

  validation {
    condition     = length(distinct([for a in var.organization.accounts : lower(a.email)])) == length(var.organization.accounts)
    error_message = "Account email addresses must be unique (AWS refuses a second account with the same email)."
  }

  validation {
    condition = alltrue([
      for a in var.organization.accounts :
      contains([for ou in var.organization.organizational_units : ou.name], a.ou)
    ])
    error_message = "Each account's ou must name one of the organizational units."
  }
}

variable "management_account_id" {
  description = "The AWS account id of the organization's management account; the provider refuses to run against any other account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.management_account_id))
    error_message = "management_account_id must be a 12-digit AWS account id."
  }
}

variable "region" {
  description = "The AWS region of the management account's regional resources (the organization trail's bucket and key)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "member_role_name" {
  description = "The IAM role AWS creates in each new member account and that the management account assumes to administer it."
  type        = string
  default     = "OrganizationAccountAccessRole"

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.member_role_name))
    error_message = "member_role_name must be a valid IAM role name (1-64 characters of letters, digits and +=,.@_-)."
  }
}

variable "trail_retention_days" {
  description = "How many days the organization trail's log objects are kept before they expire."
  type        = number
  default     = 400

  validation {
    condition     = var.trail_retention_days >= 365
    error_message = "Keep audit logs at least a year (365 days)."
  }
}

variable "tags" {
  description = "Tags added to every resource, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}
