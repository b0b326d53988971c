terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    boundary = {
      source  = "hashicorp/boundary"
      version = "~> 1.2"
    }
    vault = {
      source  = "hashicorp/vault"
      version = "~> 4.5"
    }
  }

  backend "s3" {}
}
