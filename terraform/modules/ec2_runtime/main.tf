# Each (service, version) of the runtime as an Auto Scaling group of EC2 instances, with a
# Consul client agent and an Envoy sidecar on every instance (the boot script in
# templates/). Instances have no SSH key and no public address: operators reach them
# through Boundary or SSM Session Manager.

locals {
  log_group_prefix = "/ec2/${var.name}"

  workloads = {
    for w in flatten([
      for s in var.services : [
        for v in s.versions : { key = "${s.name}-${v}", service = s, version = v }
      ]
    ]) : w.key => w
  }

  upstream_ports = {
    for s in var.services : s.name => { for i, u in s.upstreams : u => 20000 + i }
  }
}

data "aws_ssm_parameter" "ami" {
  name = var.ami_parameter
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_prefix
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "instances_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${substr(var.name, 0, 20)}-instances-"
  description        = "Instances of ${var.name}: SSM and CloudWatch agent only."
  assume_role_policy = data.aws_iam_policy_document.instances_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = toset(["AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy"])

  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.key}"
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${substr(var.name, 0, 20)}-instances-"
  role        = aws_iam_role.this.name
  tags        = var.tags
}

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-services-"
  description = "Services of ${var.name}: mesh traffic from inside the VPC only."
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-services" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "mesh" {
  security_group_id = aws_security_group.this.id
  description       = "Envoy sidecars' public listeners (mTLS) from the VPC"
  ip_protocol       = "tcp"
  from_port         = 21000
  to_port           = 21255
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "consul_lan" {
  security_group_id = aws_security_group.this.id
  description       = "Consul gossip (Serf LAN) from the VPC"
  ip_protocol       = "tcp"
  from_port         = 8301
  to_port           = 8301
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "vpc" {
  security_group_id = aws_security_group.this.id
  description       = "Mesh peers and Consul inside the VPC"
  ip_protocol       = "-1"
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "Package mirrors, AWS APIs and HCP endpoints over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_launch_template" "this" {
  for_each = local.workloads

  name_prefix            = "${var.name}-${each.key}-"
  description            = "${each.key} on ${var.name}"
  image_id               = data.aws_ssm_parameter.ami.value
  instance_type          = var.instance_type
  ebs_optimized          = true
  vpc_security_group_ids = [aws_security_group.this.id]
  update_default_version = true

  user_data = base64encode(templatefile("${path.module}/templates/user_data.sh.tftpl", {
    runtime        = var.name
    service        = each.value.service.name
    version        = each.value.version
    port           = each.value.service.port
    upstreams      = local.upstream_ports[each.value.service.name]
    datacenter     = var.consul.datacenter
    partition      = var.consul.partition
    server_address = var.consul.server_address
  }))

  iam_instance_profile {
    arn = aws_iam_instance_profile.this.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = 20
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = aws_kms_key.this.arn
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags = merge(var.tags, {
      Name    = "${var.name}-${each.key}"
      Service = each.value.service.name
      Version = each.value.version
    })
  }

  tags = var.tags
}

resource "aws_autoscaling_group" "this" {
  for_each = local.workloads

  name_prefix         = "${var.name}-${each.key}-"
  vpc_zone_identifier = var.subnet_ids
  min_size            = each.value.service.replicas
  desired_capacity    = each.value.service.replicas
  max_size            = each.value.service.replicas * 2
  health_check_type   = "EC2"

  launch_template {
    id      = aws_launch_template.this[each.key].id
    version = aws_launch_template.this[each.key].latest_version
  }

  instance_refresh {
    strategy = "Rolling"

    preferences {
      min_healthy_percentage = 50
    }
  }

  dynamic "tag" {
    for_each = merge(var.tags, { Service = each.value.service.name, Version = each.value.version })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}
data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "logs_key" {
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only; the account root must keep kms:* or the key becomes unmanageable.

  statement {
    sid       = "AdministeredByTheAccount"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsTheRuntimesLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_prefix}*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "Encrypts the logs and secrets of runtime ${var.name}."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.logs_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

