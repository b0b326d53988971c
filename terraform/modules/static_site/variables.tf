variable "name" {
  description = "Name of the site; prefixes the bucket, the distribution's comment and the WAF web ACL."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "api_origin" {
  description = "The site's API, where CloudFront sends /api/* uncached: the domain name of the store runtime's ingress gateway (its load balancer), how CloudFront connects to it (origin_protocol_policy: https-only, http-only or match-viewer) and on which ports."
  type = object({
    domain_name = string
    protocol    = optional(string, "https-only")
    http_port   = optional(number, 80)
    https_port  = optional(number, 443)
  })

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$", var.api_origin.domain_name)) && length(var.api_origin.domain_name) <= 253
    error_message = "api_origin.domain_name must be a DNS name (no scheme, port or path), such as the ingress load balancer's."
  }

  validation {
    condition     = contains(["https-only", "http-only", "match-viewer"], var.api_origin.protocol)
    error_message = "api_origin.protocol must be https-only, http-only or match-viewer."
  }

  validation {
    condition     = alltrue([for port in [var.api_origin.http_port, var.api_origin.https_port] : port == 80 || port == 443 || (port >= 1024 && port <= 65535)])
    error_message = "api_origin ports must be 80, 443 or 1024-65535 (the ports CloudFront connects to)."
  }
}

variable "price_class" {
  description = "CloudFront price class: which edge locations serve the site."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_All", "PriceClass_200", "PriceClass_100"], var.price_class)
    error_message = "price_class must be PriceClass_All, PriceClass_200 or PriceClass_100."
  }
}

variable "rate_limit_per_5_minutes" {
  description = "Requests one client IP may make in five minutes before the WAF blocks it."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit_per_5_minutes >= 100
    error_message = "rate_limit_per_5_minutes must be at least 100 (the WAF minimum)."
  }
}

variable "log_retention_days" {
  description = "How many days WAF logs are kept in CloudWatch Logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention of at least 365 days."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
