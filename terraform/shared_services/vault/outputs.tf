output "database_mount" {
  description = "Where the database secrets engine is mounted."
  value       = vault_mount.database.path
}

output "database_credentials_paths" {
  description = "The Vault path to read for credentials, by database role."
  value       = { for name, role in vault_database_secret_backend_role.this : name => "${vault_mount.database.path}/creds/${name}" }
}

output "boundary_policies" {
  description = "The policies a Boundary credential store token needs."
  value       = concat([vault_policy.boundary_controller.name], [for p in vault_policy.database : p.name])
}

output "oidc_roles" {
  description = "The identity OIDC role of each runtime (token path identity/oidc/token/<name>)."
  value       = { for name, role in vault_identity_oidc_role.runtime : name => role.name }
}

output "oidc_issuer" {
  description = "The issuer of Vault's identity tokens; each runtime root takes it as vault_oidc_issuer."
  value       = vault_identity_oidc.this.issuer
}
