variable "name" {
  description = "The runtime's name; names the IAM role its workloads assume (e.g. runtime-ecs-workloads)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "issuer_url" {
  description = "Vault's identity token issuer (its identity/oidc issuer), reachable by AWS STS over HTTPS."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+", var.issuer_url))
    error_message = "issuer_url must be an https:// URL."
  }
}

variable "audience" {
  description = "The audience (aud) Vault puts in this runtime's tokens: the client_id of the runtime's Vault OIDC role."
  type        = string

  validation {
    condition     = length(var.audience) > 0
    error_message = "audience must not be empty."
  }
}

variable "policy_arns" {
  description = "Managed policies attached to the workloads' role (none by default: grant what the services need, nothing more)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.policy_arns : can(regex("^arn:aws[a-z-]*:iam::", arn))])
    error_message = "policy_arns must hold IAM policy ARNs."
  }
}

variable "max_session_seconds" {
  description = "The longest session the workloads' role allows."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_seconds >= 900 && var.max_session_seconds <= 43200
    error_message = "max_session_seconds must be between 900 and 43200."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
