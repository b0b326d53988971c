output "org_scope_id" {
  description = "The id of the prod org scope."
  value       = boundary_scope.org.id
}

output "project_scope_ids" {
  description = "Project scope ids by runtime name."
  value       = { for name, p in boundary_scope.project : name => p.id }
}

output "auth_method_id" {
  description = "The prod org's password auth method (boundary authenticate password -auth-method-id ...)."
  value       = boundary_auth_method_password.this.id
}

output "target_ids" {
  description = "Target ids by name (boundary connect postgres -target-id ...)."
  value       = { for name, t in boundary_target.this : name => t.id }
}
