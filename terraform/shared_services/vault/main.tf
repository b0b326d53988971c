# Vault for the whole organization: dynamic PostgreSQL credentials for the prod database
# (one role per privilege level in access.json), the policies that read them, and an
# identity OIDC key with one role per runtime so that each workload can exchange a
# short-lived Vault token for AWS credentials in its own account (STS
# AssumeRoleWithWebIdentity into the role modules/workload_identity creates there): no
# static AWS keys anywhere.

module "spec" {
  source = "../../modules/lab_spec"

  terraform_dir = "${path.root}/../.."
}

locals {
  database = module.spec.access.database
  roles    = { for r in local.database.roles : r.name => r }
  # access.json's address of the database, unless database_endpoint says otherwise.
  db_host = var.database_endpoint == null ? local.database.host : var.database_endpoint.host
  db_port = var.database_endpoint == null ? local.database.port : var.database_endpoint.port

  # What each privilege level may do in the database. {{name}}, {{password}} and
  # {{expiration}} are filled in by Vault for every lease.
  grants = {
    readonly = [
      "GRANT CONNECT ON DATABASE \"${local.database.database}\" TO \"{{name}}\";",
      "GRANT USAGE ON SCHEMA public TO \"{{name}}\";",
      "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";",
    ]
    readwrite = [
      "GRANT CONNECT ON DATABASE \"${local.database.database}\" TO \"{{name}}\";",
      "GRANT USAGE ON SCHEMA public TO \"{{name}}\";",
      "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{{name}}\";",
      "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO \"{{name}}\";",
    ]
    admin = [
      "GRANT ALL PRIVILEGES ON DATABASE \"${local.database.database}\" TO \"{{name}}\";",
      "GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO \"{{name}}\";",
      "GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public TO \"{{name}}\";",
    ]
  }
}

# --- Database secrets engine ---------------------------------------------------------------

resource "vault_mount" "database" {
  path                      = local.database.vault_mount
  type                      = "database"
  description               = "Short-lived credentials for ${local.database.name}"
  default_lease_ttl_seconds = 3600
  max_lease_ttl_seconds     = 86400
}

resource "vault_database_secret_backend_connection" "this" {
  backend           = vault_mount.database.path
  name              = local.database.name
  allowed_roles     = keys(local.roles)
  verify_connection = true

  postgresql {
    connection_url          = "postgresql://{{username}}:{{password}}@${local.db_host}:${local.db_port}/${local.database.database}?sslmode=require"
    username                = var.postgres_username
    password                = var.postgres_password
    password_authentication = "scram-sha-256"
    max_open_connections    = 4
  }

  lifecycle {
    # After rotate-root only Vault knows the password; do not write the initial one back.
    ignore_changes = [postgresql[0].password]
  }
}

resource "vault_database_secret_backend_role" "this" {
  for_each = local.roles

  backend     = vault_mount.database.path
  name        = each.key
  db_name     = vault_database_secret_backend_connection.this.name
  default_ttl = each.value.default_ttl
  max_ttl     = each.value.max_ttl

  creation_statements = concat(
    ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"],
    local.grants[each.value.privileges],
  )
  revocation_statements = [
    "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM \"{{name}}\";",
    "REASSIGN OWNED BY \"{{name}}\" TO \"${var.postgres_username}\";",
    "DROP OWNED BY \"{{name}}\";",
    "DROP ROLE IF EXISTS \"{{name}}\";",
  ]
}

# --- Policies --------------------------------------------------------------------------------

resource "vault_policy" "database" {
  for_each = local.roles

  name   = "database-${each.key}"
  policy = <<-EOT
    # Read ${each.value.privileges} credentials for ${local.database.name}.
    path "${vault_mount.database.path}/creds/${each.key}" {
      capabilities = ["read"]
    }
  EOT
}

# What Boundary's Vault credential store needs: manage its own token, and renew and
# revoke the leases of the credentials it brokers.
resource "vault_policy" "boundary_controller" {
  name   = "boundary-controller"
  policy = <<-EOT
    path "auth/token/lookup-self" {
      capabilities = ["read"]
    }
    path "auth/token/renew-self" {
      capabilities = ["update"]
    }
    path "auth/token/revoke-self" {
      capabilities = ["update"]
    }
    path "sys/leases/renew" {
      capabilities = ["update"]
    }
    path "sys/leases/revoke" {
      capabilities = ["update"]
    }
    path "sys/capabilities-self" {
      capabilities = ["update"]
    }
  EOT
}

resource "vault_policy" "runtime" {
  for_each = module.spec.runtimes

  name   = each.key
  policy = <<-EOT
    # Workloads of ${each.key} may mint identity tokens for their own account only.
    path "identity/oidc/token/${each.key}" {
      capabilities = ["read"]
    }
  EOT
}

# --- Workload identity for AWS -------------------------------------------------------------

resource "vault_identity_oidc" "this" {
  issuer = var.oidc_issuer
}

resource "vault_identity_oidc_key" "workloads" {
  name               = "workloads"
  algorithm          = "RS256"
  rotation_period    = 86400
  verification_ttl   = 86400
  allowed_client_ids = []

  lifecycle {
    # The allowed audiences are managed by vault_identity_oidc_key_allowed_client_id.
    ignore_changes = [allowed_client_ids]
  }
}

resource "vault_identity_oidc_role" "runtime" {
  for_each = module.spec.runtimes

  name = each.key
  key  = vault_identity_oidc_key.workloads.name
  # The audience is the runtime's own name: the runtime's account accepts only tokens
  # minted for it (modules/workload_identity checks aud), so one runtime's workloads
  # cannot assume another's role.
  client_id = each.key
  ttl       = var.token_ttl_seconds
  # The runtime and account ride in the token, so each account's trust policy can insist
  # on its own runtime.
  template = jsonencode({
    runtime = each.key
    account = each.value.account
  })
}

resource "vault_identity_oidc_key_allowed_client_id" "runtime" {
  for_each = vault_identity_oidc_role.runtime

  key_name          = vault_identity_oidc_key.workloads.name
  allowed_client_id = each.value.client_id
}
