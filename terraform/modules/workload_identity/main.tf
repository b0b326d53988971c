# Workload identity without static keys: the runtime's account trusts Vault as an OIDC
# identity provider, and a workload holding a Vault identity token for this runtime (and
# only this runtime: the token's audience is checked) may assume the workloads' role with
# sts:AssumeRoleWithWebIdentity, for short-lived credentials.

locals {
  issuer_host = trimprefix(var.issuer_url, "https://")
}

resource "aws_iam_openid_connect_provider" "this" {
  url            = var.issuer_url
  client_id_list = [var.audience]
  tags           = var.tags
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer_host}:aud"
      values   = [var.audience]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-workloads"
  description          = "Assumed by ${var.name}'s workloads with a Vault identity token"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_seconds
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = toset(var.policy_arns)

  role       = aws_iam_role.this.name
  policy_arn = each.value
}
