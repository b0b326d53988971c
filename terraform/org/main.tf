# The AWS Organization as code: the organization, its organizational units, its member
# accounts (one per team and runtime), guardrail SCPs and an organization-wide CloudTrail
# so that "who did what, in which account" has one answer (step 2 of the lab).

data "aws_partition" "current" {
  provider = aws.management
}

locals {
  top_level_ous = { for ou in var.organization.organizational_units : ou.name => ou if ou.parent == "Root" }
  nested_ous    = { for ou in var.organization.organizational_units : ou.name => ou if ou.parent != "Root" }
  accounts      = { for a in var.organization.accounts : a.name => a }

  ou_ids = merge(
    { for name, ou in aws_organizations_organizational_unit.top : name => ou.id },
    { for name, ou in aws_organizations_organizational_unit.nested : name => ou.id },
  )

  trail_name   = "${var.organization.name}-organization-trail"
  trail_bucket = "${var.organization.name}-cloudtrail-${var.management_account_id}"
  trail_arn    = "arn:${data.aws_partition.current.partition}:cloudtrail:${var.region}:${var.management_account_id}:trail/${local.trail_name}"
}

resource "aws_organizations_organization" "this" {
  provider = aws.management

  feature_set = var.organization.feature_set
  aws_service_access_principals = [
    "account.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "sso.amazonaws.com",
  ]
  # Policies exist only with all features; consolidated billing alone has none.
  enabled_policy_types = var.organization.feature_set == "ALL" ? ["SERVICE_CONTROL_POLICY", "TAG_POLICY"] : []
}

resource "aws_organizations_organizational_unit" "top" {
  provider = aws.management
  for_each = local.top_level_ous

  name      = each.key
  parent_id = aws_organizations_organization.this.roots[0].id
  tags      = var.tags
}

resource "aws_organizations_organizational_unit" "nested" {
  provider = aws.management
  for_each = local.nested_ous

  name      = each.key
  parent_id = aws_organizations_organizational_unit.top[each.value.parent].id
  tags      = var.tags
}

resource "aws_organizations_account" "this" {
  provider = aws.management
  for_each = local.accounts

  name                       = each.key
  email                      = each.value.email
  parent_id                  = local.ou_ids[each.value.ou]
  role_name                  = var.member_role_name
  iam_user_access_to_billing = "DENY"
  # Closing an AWS account is a 90-day, mostly irreversible process: removing an account
  # from the specification detaches it from the organization, it does not close it.
  close_on_deletion = false
  tags              = merge(var.tags, { Name = each.key })

  lifecycle {
    # AWS does not return these after creation; without this every plan would show a diff.
    ignore_changes = [role_name, iam_user_access_to_billing]
  }
}

# --- Guardrails ---------------------------------------------------------------------

data "aws_iam_policy_document" "guardrails" {
  statement {
    sid       = "DenyLeavingTheOrganization"
    effect    = "Deny"
    actions   = ["organizations:LeaveOrganization"]
    resources = ["*"]
  }

  statement {
    sid    = "DenyTamperingWithTheOrganizationTrail"
    effect = "Deny"
    actions = [
      "cloudtrail:DeleteTrail",
      "cloudtrail:StopLogging",
      "cloudtrail:UpdateTrail",
      "cloudtrail:PutEventSelectors",
    ]
    resources = [local.trail_arn]
  }

  statement {
    sid       = "DenyRootUserInMemberAccounts"
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]

    condition {
      test     = "StringLike"
      variable = "aws:PrincipalArn"
      values   = ["arn:${data.aws_partition.current.partition}:iam::*:root"]
    }
  }
}

resource "aws_organizations_policy" "guardrails" {
  provider = aws.management
  count    = var.organization.feature_set == "ALL" ? 1 : 0

  name        = "${var.organization.name}-guardrails"
  description = "Member accounts cannot leave the organization, stop the organization trail or act as root."
  type        = "SERVICE_CONTROL_POLICY"
  content     = data.aws_iam_policy_document.guardrails.json
  tags        = var.tags

  # A policy lives in its organization: made once it exists, and made again with a new one
  # (a replaced organization takes its policies along).
  depends_on = [aws_organizations_organization.this]

  lifecycle {
    replace_triggered_by = [aws_organizations_organization.this.id]
  }
}

resource "aws_organizations_policy_attachment" "guardrails" {
  provider = aws.management
  for_each = var.organization.feature_set == "ALL" ? local.top_level_ous : {}

  policy_id = aws_organizations_policy.guardrails[0].id
  target_id = aws_organizations_organizational_unit.top[each.key].id
}

# --- Organization trail ---------------------------------------------------------------

data "aws_iam_policy_document" "trail_key" {
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only; the management account administers its own audit key.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only; without kms:* for the account root the key becomes unmanageable.

  statement {
    sid       = "AdministeredByTheManagementAccount"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${var.management_account_id}:root"]
    }
  }

  statement {
    sid       = "CloudTrailEncryptsLogs"
    actions   = ["kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
}

resource "aws_kms_key" "trail" {
  provider = aws.management

  description             = "Encrypts the ${local.trail_name} log files."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.trail_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "trail" {
  provider = aws.management

  name          = "alias/${local.trail_name}"
  target_key_id = aws_kms_key.trail.key_id
}

resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_144:The audit bucket is the destination of record; a cross-region copy belongs to the organization's backup account, which this lab does not create.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object-created events of the audit bucket; readers query CloudTrail.
  #checkov:skip=CKV_AWS_18:This is the log bucket; logging its own access to itself would loop, and CloudTrail data events cover it.

  provider = aws.management

  bucket = local.trail_bucket
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "trail" {
  provider = aws.management

  bucket                  = aws_s3_bucket.trail.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "trail" {
  provider = aws.management

  bucket = aws_s3_bucket.trail.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "trail" {
  provider = aws.management

  bucket = aws_s3_bucket.trail.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  provider = aws.management

  bucket = aws_s3_bucket.trail.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.trail.arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  provider = aws.management

  bucket = aws_s3_bucket.trail.id

  rule {
    id     = "expire-audit-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.trail_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "trail_bucket" {
  statement {
    sid       = "CloudTrailChecksTheBucketAcl"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid     = "CloudTrailWritesTheOrganizationsLogs"
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.trail.arn}/AWSLogs/${var.management_account_id}/*",
      "${aws_s3_bucket.trail.arn}/AWSLogs/${aws_organizations_organization.this.id}/*",
    ]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.trail.arn, "${aws_s3_bucket.trail.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  provider = aws.management

  bucket = aws_s3_bucket.trail.id
  policy = data.aws_iam_policy_document.trail_bucket.json
}

resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV_AWS_252:No one subscribes to per-file delivery notifications; readers use LookupEvents and the S3 archive.
  #checkov:skip=CKV2_AWS_10:Step 2 reads events with LookupEvents and the S3 archive; a CloudWatch Logs copy is billed per GB and is added only when metric filters on API calls are wanted.

  provider = aws.management

  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail.id
  kms_key_id                    = aws_kms_key.trail.arn
  is_organization_trail         = true
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  tags                          = var.tags

  depends_on = [aws_s3_bucket_policy.trail]
}
