# Privileged access as code: the org scope "prod" with one project per runtime, a password
# auth method with the users and groups of access.json, and for each target a TCP target to
# the prod database whose credentials Boundary brokers from Vault's database secrets engine
# (one lease per session), plus the roles that say which groups may connect. A user in no
# allowed group (bob for the admin target) is denied.
#
# The standing configuration only: nobody is a standing member of a group that opens a target
# (dba, developers). Membership there is granted just in time, for minutes, by the platform's
# access tooling (the lab's SDK, step 4), which Terraform leaves alone (ignore_changes).

module "spec" {
  source = "../../modules/lab_spec"

  terraform_dir = "${path.root}/../.."
}

locals {
  access   = module.spec.access.boundary
  database = module.spec.access.database
  users    = { for u in local.access.users : u.name => u }
  groups   = { for g in local.access.groups : g.name => g }
  targets  = { for t in local.access.targets : t.name => t }
  # Groups that open a target: members only just in time. The others (auditors) are standing.
  jit_group_names = toset(flatten([for t in local.access.targets : t.groups]))
  jit_groups      = { for name, g in local.groups : name => g if contains(local.jit_group_names, name) }
  standing_groups = { for name, g in local.groups : name => g if !contains(local.jit_group_names, name) }
  group_ids = merge(
    { for name, g in boundary_group.standing : name => g.id },
    { for name, g in boundary_group.just_in_time : name => g.id },
  )
  # Projects that hold at least one target need a credential store and a host catalog.
  target_projects = toset([for t in local.access.targets : t.project])
  # access.json's address of the database, unless database_endpoint says otherwise.
  db_host = var.database_endpoint == null ? local.database.host : var.database_endpoint.host
  db_port = var.database_endpoint == null ? local.database.port : var.database_endpoint.port
}

resource "boundary_scope" "org" {
  scope_id                 = "global"
  name                     = local.access.org
  description              = "Production: every runtime's project"
  auto_create_admin_role   = false
  auto_create_default_role = false
}

resource "boundary_scope" "project" {
  for_each = module.spec.runtimes

  scope_id                 = boundary_scope.org.id
  name                     = each.key
  description              = "Runtime ${each.key} (${each.value.kind}, ${each.value.region})"
  auto_create_admin_role   = false
  auto_create_default_role = false
}

# --- Identities -------------------------------------------------------------------------------

resource "boundary_auth_method_password" "this" {
  scope_id              = boundary_scope.org.id
  name                  = "password"
  description           = "Login names and passwords of the prod org"
  min_login_name_length = 3
  min_password_length   = 12
}

resource "boundary_account_password" "this" {
  for_each = local.users

  auth_method_id = boundary_auth_method_password.this.id
  login_name     = each.key
  password       = var.user_passwords[each.key]

  lifecycle {
    # Users change their password; Terraform sets only the first one.
    ignore_changes = [password]
  }
}

resource "boundary_user" "this" {
  for_each = local.users

  scope_id    = boundary_scope.org.id
  name        = each.key
  description = each.value.description
  account_ids = [boundary_account_password.this[each.key].id]
}

# Standing groups: their members are declared (access.json's users in them).
resource "boundary_group" "standing" {
  for_each = local.standing_groups

  scope_id    = boundary_scope.org.id
  name        = each.key
  description = each.value.description
  member_ids  = [for name, u in local.users : boundary_user.this[name].id if contains(u.groups, each.key)]
}

# Just-in-time groups: no standing member; a grant adds one for minutes and removes them at
# expiry, so Terraform neither sets nor corrects the members.
resource "boundary_group" "just_in_time" {
  for_each = local.jit_groups

  scope_id    = boundary_scope.org.id
  name        = each.key
  description = each.value.description

  lifecycle {
    ignore_changes = [member_ids]
  }
}

# --- Roles ----------------------------------------------------------------------------------

# Anonymous users may list the org's auth methods and log in, nothing else.
resource "boundary_role" "anonymous" {
  scope_id        = boundary_scope.org.id
  name            = "anonymous-login"
  description     = "Lets anyone reach the login page of the prod org"
  grant_scope_ids = ["this"]
  principal_ids   = ["u_anon"]
  grant_strings = [
    "ids=*;type=scope;actions=list,no-op",
    "ids=*;type=auth-method;actions=list,authenticate",
  ]
}

# Every member may see the org and its projects and manage their own sessions and tokens.
resource "boundary_role" "members" {
  scope_id        = boundary_scope.org.id
  name            = "members"
  description     = "What every prod user may do: browse scopes, list targets, manage own sessions"
  grant_scope_ids = ["this", "children"]
  principal_ids   = values(local.group_ids)
  grant_strings = [
    "ids=*;type=scope;actions=list,read,no-op",
    "ids=*;type=target;actions=list,no-op",
    "ids=*;type=session;actions=list,read:self,cancel:self",
    "ids=*;type=auth-token;actions=list,read:self,delete:self",
    "ids={{.User.Id}};actions=read,change-password",
  ]
}

# Just-in-time access: only the target's groups may open a session to it.
resource "boundary_role" "target" {
  for_each = local.targets

  scope_id        = boundary_scope.project[each.value.project].id
  name            = "connect-${each.key}"
  description     = "Open sessions to ${each.key}"
  grant_scope_ids = ["this"]
  principal_ids   = [for g in each.value.groups : boundary_group.just_in_time[g].id]
  grant_strings   = ["ids=${boundary_target.this[each.key].id};actions=read,authorize-session"]
}

# Auditors read every session of the org's projects (and, where recording is on, replay it).
resource "boundary_role" "auditors" {
  count = contains(keys(local.standing_groups), "auditors") ? 1 : 0

  scope_id        = boundary_scope.org.id
  name            = "auditors"
  description     = "Read all sessions and session recordings of the prod org"
  grant_scope_ids = ["this", "children"]
  principal_ids   = [boundary_group.standing["auditors"].id]
  grant_strings = [
    "ids=*;type=session;actions=list,read",
    "ids=*;type=session-recording;actions=list,read,download",
  ]
}

# --- Vault credential brokering ---------------------------------------------------------------

# An orphan, periodic token: Boundary renews it itself, and it outlives no Terraform run.
resource "vault_token" "boundary" {
  for_each = local.target_projects

  display_name      = "boundary-${each.key}"
  policies          = concat(["boundary-controller"], [for t in local.access.targets : "database-${t.database_role}" if t.project == each.key])
  no_parent         = true
  no_default_policy = true
  renewable         = true
  period            = "20m"
}

resource "boundary_credential_store_vault" "this" {
  for_each = local.target_projects

  scope_id      = boundary_scope.project[each.key].id
  name          = "vault"
  description   = "Vault of the shared-services account"
  address       = var.vault_address
  token         = vault_token.boundary[each.key].client_token
  worker_filter = var.worker_filter
}

resource "boundary_credential_library_vault" "this" {
  for_each = local.targets

  credential_store_id = boundary_credential_store_vault.this[each.value.project].id
  name                = "${local.database.name}-${each.value.database_role}"
  description         = "${each.value.database_role} credentials for ${local.database.name}, leased per session"
  path                = "${local.database.vault_mount}/creds/${each.value.database_role}"
  http_method         = "GET"
  credential_type     = "username_password"
}

# --- Hosts and targets ---------------------------------------------------------------------------

resource "boundary_host_catalog_static" "this" {
  for_each = local.target_projects

  scope_id    = boundary_scope.project[each.key].id
  name        = "databases"
  description = "Databases of ${each.key}"
}

resource "boundary_host_static" "database" {
  for_each = local.target_projects

  host_catalog_id = boundary_host_catalog_static.this[each.key].id
  name            = local.database.name
  address         = local.db_host
}

resource "boundary_host_set_static" "database" {
  for_each = local.target_projects

  host_catalog_id = boundary_host_catalog_static.this[each.key].id
  name            = local.database.name
  host_ids        = [boundary_host_static.database[each.key].id]
}

resource "boundary_target" "this" {
  for_each = local.targets

  type                           = "tcp"
  scope_id                       = boundary_scope.project[each.value.project].id
  name                           = each.key
  description                    = "${each.value.database_role} access to ${local.database.name}"
  default_port                   = local.db_port
  session_max_seconds            = each.value.session_max_seconds
  session_connection_limit       = each.value.session_connection_limit
  egress_worker_filter           = var.worker_filter
  host_source_ids                = [boundary_host_set_static.database[each.value.project].id]
  brokered_credential_source_ids = [boundary_credential_library_vault.this[each.key].id]

  lifecycle {
    # Session recording of a TCP target is the sandbox's extension (real Boundary records SSH
    # and RDP targets, with Enterprise or HCP): the lab turns it on there, Terraform leaves it.
    ignore_changes = [enable_session_recording, storage_bucket_id]
  }
}
