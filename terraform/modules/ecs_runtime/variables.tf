variable "name" {
  description = "The runtime's name (e.g. runtime-ecs); prefixes every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "The VPC the runtime runs in."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-...)."
  }
}

variable "vpc_cidr" {
  description = "The VPC's CIDR block: the only source allowed to reach the services' ports (traffic arrives through the mesh)."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "subnet_ids" {
  description = "Private subnets the workloads run in, at least two (one per availability zone)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "subnet_ids must hold at least two subnet ids (subnet-...)."
  }
}

variable "services" {
  description = "The services this runtime runs, from the runtime's specification: name, port, protocol, versions (each version is its own workload), upstreams (services it calls through the mesh), traffic weights per version, replicas per version, container image."
  type = list(object({
    name      = string
    port      = number
    protocol  = string
    versions  = list(string)
    upstreams = list(string)
    traffic   = map(number)
    replicas  = number
    image     = string
  }))

  validation {
    condition     = alltrue([for s in var.services : can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", s.name))])
    error_message = "Each service name must be 2-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }

  validation {
    condition     = alltrue([for s in var.services : s.port >= 1024 && s.port <= 65535])
    error_message = "Each service port must be between 1024 and 65535."
  }

  validation {
    condition     = alltrue([for s in var.services : length(s.versions) > 0 && alltrue([for v in s.versions : can(regex("^v[0-9]+$", v))])])
    error_message = "Each service needs at least one version, named v1, v2, ..."
  }

  validation {
    condition     = alltrue([for s in var.services : s.replicas >= 1 && s.replicas <= 20])
    error_message = "Each service runs 1 to 20 replicas per version."
  }
}

variable "consul" {
  description = "How workloads join the Consul service mesh: the servers' address, the datacenter and the admin partition of this runtime."
  type = object({
    server_address = string
    datacenter     = string
    partition      = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.consul.partition)) && can(regex("^[a-z][a-z0-9-]{0,62}$", var.consul.datacenter))
    error_message = "consul.partition and consul.datacenter must be lowercase names (letters, digits, hyphens)."
  }
}

variable "upstream_partitions" {
  description = "The admin partition of each upstream the services call that runs in another runtime (by service name); an upstream not listed is in this runtime's own partition."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for p in values(var.upstream_partitions) : can(regex("^[a-z][a-z0-9-]{0,62}$", p))])
    error_message = "upstream_partitions must map service names to admin partition names (lowercase letters, digits, hyphens)."
  }
}

variable "log_retention_days" {
  description = "How many days workload logs are kept in CloudWatch Logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention of at least 365 days (365, 400, 545, 731, ...)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
