variable "boundary_address" {
  description = "HTTPS address of Boundary's controller API."
  type        = string

  validation {
    condition     = can(regex("^https://", var.boundary_address))
    error_message = "boundary_address must be an https:// URL."
  }
}

variable "boundary_admin" {
  description = "The administrator Terraform authenticates as: the global password auth method's id and a login name."
  type = object({
    auth_method_id = string
    login_name     = string
  })

  validation {
    condition     = can(regex("^ampw_[A-Za-z0-9]{10}$", var.boundary_admin.auth_method_id))
    error_message = "boundary_admin.auth_method_id must be a password auth method id (ampw_ and 10 characters)."
  }
}

variable "boundary_admin_password" {
  description = "The administrator's password."
  type        = string
  sensitive   = true
}

variable "vault_address" {
  description = "HTTPS address of Vault as Boundary's workers reach it."
  type        = string

  validation {
    condition     = can(regex("^https://", var.vault_address))
    error_message = "vault_address must be an https:// URL."
  }
}

variable "user_passwords" {
  description = "Initial password of each user in access.json, by user name (users change it at first login). Set from a secrets manager, e.g. TF_VAR_user_passwords."
  type        = map(string)
  sensitive   = true

  validation {
    condition     = alltrue([for p in values(var.user_passwords) : length(p) >= 12])
    error_message = "Every initial password must be at least 12 characters."
  }
}

variable "worker_filter" {
  description = "Boundary worker filter selecting the workers that can reach Vault and the prod database."
  type        = string
  default     = "\"prod\" in \"/tags/env\""

  validation {
    condition     = length(var.worker_filter) > 0
    error_message = "worker_filter must not be empty."
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
