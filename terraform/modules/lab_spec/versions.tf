terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  # No provider: this module only reads the lab's specification files.
  required_providers {}
}
