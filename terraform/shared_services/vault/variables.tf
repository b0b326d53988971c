variable "vault_address" {
  description = "HTTPS address of Vault, e.g. https://vault.shared.soa-lab.example.com:8200."
  type        = string

  validation {
    condition     = can(regex("^https://", var.vault_address))
    error_message = "vault_address must be an https:// URL."
  }
}

variable "oidc_issuer" {
  description = "The public URL Vault's identity tokens name as issuer; each runtime account trusts it for AssumeRoleWithWebIdentity."
  type        = string

  validation {
    condition     = can(regex("^https://", var.oidc_issuer))
    error_message = "oidc_issuer must be an https:// URL that AWS STS can reach."
  }
}

variable "postgres_username" {
  description = "The PostgreSQL role Vault connects as to create and drop short-lived users."
  type        = string
  default     = "vault"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.postgres_username))
    error_message = "postgres_username must be a PostgreSQL role name."
  }
}

variable "postgres_password" {
  description = "Initial password of postgres_username; rotate it with Vault's rotate-root right after the first apply so that only Vault knows it."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.postgres_password) >= 16
    error_message = "postgres_password must be at least 16 characters."
  }
}

variable "token_ttl_seconds" {
  description = "Lifetime of the workload identity tokens Vault issues for AssumeRoleWithWebIdentity."
  type        = number
  default     = 900

  validation {
    condition     = var.token_ttl_seconds >= 300 && var.token_ttl_seconds <= 3600
    error_message = "token_ttl_seconds must be between 300 and 3600."
  }
}

variable "database_endpoint" {
  description = "Where the database answers when not at access.json's host and port (e.g. a sandbox's PostgreSQL); null means access.json's."
  type = object({
    host = string
    port = number
  })
  default = null

  validation {
    condition     = var.database_endpoint == null || try(var.database_endpoint.port > 0 && var.database_endpoint.port < 65536 && length(var.database_endpoint.host) > 0, false)
    error_message = "database_endpoint needs a host and a TCP port (1-65535)."
  }
}
