variable "terraform_dir" {
  description = "The Terraform monorepo's top folder (the one holding runtime_*/ and shared_services/), usually \"$${path.root}/..\" or \"$${path.root}/../..\"."
  type        = string

  validation {
    condition     = length(var.terraform_dir) > 0
    error_message = "terraform_dir must be set."
  }
}
