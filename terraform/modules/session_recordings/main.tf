# Boundary's session recordings are evidence: Boundary's writer puts them (and reads them back
# for a download an auditor asked Boundary for), the auditors' role reads them, and nobody
# else reads, writes or deletes them, whatever their own policies allow (an explicit Deny).
# The policy document is a template the lab's SDK applies too (soa_sdk.access.step), so the
# sandbox enforces exactly this policy.

data "aws_partition" "current" {}

data "aws_iam_policy_document" "auditor_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = var.auditor_principal_arns
    }
  }
}

resource "aws_iam_role" "auditor" {
  name               = var.auditor_role_name
  description        = "Reads Boundary's session recordings in ${var.bucket_name}, nothing else."
  assume_role_policy = data.aws_iam_policy_document.auditor_assume.json
  tags               = var.tags
}

resource "aws_s3_bucket_policy" "this" {
  bucket = var.bucket_name
  policy = templatefile("${path.module}/bucket-policy.json.tftpl", {
    bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"
    writer_arn  = var.writer_arn
    auditor_arn = aws_iam_role.auditor.arn
  })
}
