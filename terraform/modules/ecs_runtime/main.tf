# An ECS cluster on Fargate running each (service, version) of the runtime as its own ECS
# service: store-v1, inventory-v1, inventory-v2, ... Traffic between them flows through the
# Consul mesh: each task's upstreams are on localhost ports served by the mesh sidecar.
#
# Not modelled here: the Consul sidecars themselves (consul-dataplane and the mesh-init
# container). In production they are added to each task definition by HashiCorp's
# consul-ecs module or controller, which reads the consul.hashicorp.com docker labels below.

locals {
  log_group_prefix = "/ecs/${var.name}"

  # One workload per (service, version): versions run side by side during a canary.
  workloads = {
    for w in flatten([
      for s in var.services : [
        for v in s.versions : { key = "${s.name}-${v}", service = s, version = v }
      ]
    ]) : w.key => w
  }

  # Upstreams are reached on localhost through the sidecar, one port each.
  upstream_ports = {
    for s in var.services : s.name => { for i, u in s.upstreams : u => 20000 + i }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_prefix
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = aws_kms_key.this.arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.this.name
      }
    }
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 1
  }
}

# --- IAM ---------------------------------------------------------------------------------

data "aws_iam_policy_document" "tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name_prefix        = "${substr(var.name, 0, 20)}-exec-"
  description        = "Lets ECS pull images and write logs for ${var.name}."
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# The workloads' own identity: no permissions. Services get credentials from Vault
# (workload identity), not from broad task-role policies.
resource "aws_iam_role" "task" {
  name_prefix        = "${substr(var.name, 0, 20)}-task-"
  description        = "Identity of the ${var.name} workloads; permissions come from Vault."
  assume_role_policy = data.aws_iam_policy_document.tasks_assume.json
  tags               = var.tags
}

# --- Network -------------------------------------------------------------------------------

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-services-"
  description = "Services of ${var.name}: mesh traffic from inside the VPC only."
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-services" })

  lifecycle {
    create_before_destroy = true
  }
}

# One rule per port, not per service: AWS refuses a second rule with the same protocol,
# ports and source whatever its description (InvalidPermission.Duplicate), and services
# may share a port.
resource "aws_vpc_security_group_ingress_rule" "mesh" {
  for_each = { for port in distinct([for s in var.services : s.port]) : tostring(port) => port }

  security_group_id = aws_security_group.this.id
  description       = "${join(", ", sort([for s in var.services : s.name if s.port == each.value]))} from the VPC"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
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
  description       = "Image pulls, AWS APIs and HCP endpoints over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Workloads -------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  for_each = local.workloads

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name                   = "app"
      image                  = each.value.service.image
      essential              = true
      readonlyRootFilesystem = true
      portMappings = [
        { containerPort = each.value.service.port, protocol = "tcp" }
      ]
      environment = [
        { name = "NAME", value = each.value.service.name },
        { name = "MESSAGE", value = "${each.value.service.name} ${each.value.version} on ${var.name}" },
        { name = "LISTEN_ADDR", value = "0.0.0.0:${each.value.service.port}" },
        {
          name = "UPSTREAM_URIS"
          value = join(",", [
            for u, port in local.upstream_ports[each.value.service.name] : "http://localhost:${port}"
          ])
        },
      ]
      dockerLabels = {
        "consul.hashicorp.com/service-name"         = each.value.service.name
        "consul.hashicorp.com/service-port"         = tostring(each.value.service.port)
        "consul.hashicorp.com/service-meta-version" = each.value.version
        "consul.hashicorp.com/partition"            = var.consul.partition
        # An upstream in another admin partition in consul-k8s's labelled form.
        "consul.hashicorp.com/upstreams" = join(",", [
          for u, port in local.upstream_ports[each.value.service.name] :
          "${lookup(var.upstream_partitions, u, var.consul.partition) == var.consul.partition ? u : "${u}.svc.default.ns.${var.upstream_partitions[u]}.ap"}:${port}"
        ])
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.key
        }
      }
    }
  ])

  tags = merge(var.tags, { Service = each.value.service.name, Version = each.value.version })
}

resource "aws_ecs_service" "this" {
  for_each = local.workloads

  # As the task definition's family: a release adds a version's service beside these.
  name                    = "${var.name}-${each.key}"
  cluster                 = aws_ecs_cluster.this.id
  task_definition         = aws_ecs_task_definition.this[each.key].arn
  desired_count           = each.value.service.replicas
  launch_type             = "FARGATE"
  enable_execute_command  = false
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = merge(var.tags, { Service = each.value.service.name, Version = each.value.version })
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

