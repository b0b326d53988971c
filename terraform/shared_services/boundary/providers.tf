# Boundary's controller (HCP Boundary or self-managed), administered through its password
# auth method; the administrator's password comes from a variable set at apply time.
provider "boundary" {
  addr                   = var.boundary_address
  auth_method_id         = var.boundary_admin.auth_method_id
  auth_method_login_name = var.boundary_admin.login_name
  auth_method_password   = var.boundary_admin_password
}

# Vault mints the token Boundary's credential store uses (VAULT_TOKEN from the environment).
provider "vault" {
  address = var.vault_address
}
