variable "bucket_name" {
  description = "The S3 bucket Boundary's storage bucket records sessions into."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "writer_arn" {
  description = "ARN of the IAM user or role Boundary's AWS storage plugin uses (it writes recordings and reads them back for downloads)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(user|role)/", var.writer_arn))
    error_message = "writer_arn must be an IAM user or role ARN."
  }
}

variable "auditor_role_name" {
  description = "Name of the role auditors assume to read recordings."
  type        = string
  default     = "session-recordings-auditor"
}

variable "auditor_principal_arns" {
  description = "Who may assume the auditors' role (e.g. the auditors' SSO permission set role, or the account root to delegate to IAM policies)."
  type        = list(string)

  validation {
    condition     = length(var.auditor_principal_arns) > 0
    error_message = "auditor_principal_arns must name at least one principal."
  }
}

variable "tags" {
  description = "Tags on the auditors' role."
  type        = map(string)
  default     = {}
}
