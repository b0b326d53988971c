variable "runtime" {
  description = "This runtime's specification, loaded from runtime.auto.tfvars.json (the file soa_sdk reads too): name, kind, organization account, region, VPC block, Consul admin partition and the services it runs."
  type = object({
    name             = string
    kind             = string
    account          = string
    region           = string
    vpc_cidr         = string
    consul_partition = string
    services = list(object({
      name      = string
      port      = number
      protocol  = string
      versions  = list(string)
      upstreams = list(string)
      traffic   = map(number)
      replicas  = number
      image     = string
    }))
  })

  validation {
    condition     = can(regex("^runtime-[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$", var.runtime.name))
    error_message = "runtime.name must be 'runtime-' followed by up to 24 lowercase letters, digits and hyphens."
  }

  validation {
    condition     = contains(["ecs", "eks", "ec2"], var.runtime.kind)
    error_message = "runtime.kind must be ecs, eks or ec2."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,48}[a-z0-9]$", var.runtime.account))
    error_message = "runtime.account must name an account of the organization specification."
  }

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.runtime.region))
    error_message = "runtime.region must be an AWS region name such as us-east-1."
  }

  validation {
    condition     = can(cidrhost(var.runtime.vpc_cidr, 0)) && endswith(var.runtime.vpc_cidr, "/16")
    error_message = "runtime.vpc_cidr must be an IPv4 /16 block."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.runtime.consul_partition))
    error_message = "runtime.consul_partition must be 2-32 lowercase letters, digits and hyphens."
  }

  validation {
    condition     = length(distinct([for s in var.runtime.services : s.name])) == length(var.runtime.services)
    error_message = "Service names must be unique within a runtime."
  }

  validation {
    condition     = alltrue([for s in var.runtime.services : s.protocol == "http" || s.protocol == "grpc" || s.protocol == "tcp"])
    error_message = "Each service's protocol must be http, grpc or tcp."
  }

  validation {
    condition = alltrue([
      for s in var.runtime.services :
      sum(concat([0], values(s.traffic))) == 100 && alltrue([for v in keys(s.traffic) : contains(s.versions, v)])
    ])
    error_message = "Each service's traffic must give weights to its own versions only, adding up to 100."
  }
}

variable "account_id" {
  description = "The 12-digit id of the runtime's AWS account (output account_ids of terraform/org)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id."
  }
}

variable "assume_role_name" {
  description = "The role Terraform assumes in the runtime's account."
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

variable "consul" {
  description = "Where the runtime's workloads find the Consul servers (an address the VPC can reach) and their datacenter."
  type = object({
    server_address = string
    datacenter     = string
  })

  validation {
    condition     = length(var.consul.server_address) > 0 && can(regex("^[a-z][a-z0-9-]{0,62}$", var.consul.datacenter))
    error_message = "consul.server_address must be set and consul.datacenter must be a lowercase name."
  }
}

variable "tags" {
  description = "Tags added to every resource, on top of the provider's default tags."
  type        = map(string)
  default     = {}
}

variable "vault_oidc_issuer" {
  description = "Vault's identity token issuer URL (output of shared_services/vault); the account trusts it for AssumeRoleWithWebIdentity."
  type        = string

  validation {
    condition     = can(regex("^https://", var.vault_oidc_issuer))
    error_message = "vault_oidc_issuer must be an https:// URL."
  }
}
