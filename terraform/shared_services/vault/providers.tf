# Vault (HCP Vault or self-managed) in the shared-services account. The token comes from
# VAULT_TOKEN (or a VAULT_ auth method), never from a file.
provider "vault" {
  address = var.vault_address
}
