variable "consul_address" {
  description = "HTTPS address of the Consul servers, e.g. https://consul.shared.soa-lab.example.com:8501."
  type        = string

  validation {
    condition     = can(regex("^https://", var.consul_address))
    error_message = "consul_address must be an https:// URL: the ACL token travels with every request."
  }
}

variable "datacenter" {
  description = "The Consul datacenter the mesh's configuration entries are written to."
  type        = string
  default     = "prod-us-east-1"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.datacenter))
    error_message = "datacenter must be a lowercase name (letters, digits, hyphens)."
  }
}
