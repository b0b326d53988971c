# A ECS runtime in its own account: a network and the ecs compute that runs this
# runtime's services, joined to the Consul admin partition named in runtime.auto.tfvars.json.
# Generated from terraform/templates/runtime by soa_sdk.tf.template: edit the template.

module "network" {
  source    = "../modules/network"
  providers = { aws = aws.runtime }

  name     = var.runtime.name
  vpc_cidr = var.runtime.vpc_cidr
  tags     = var.tags
}

module "compute" {
  source    = "../modules/ecs_runtime"
  providers = { aws = aws.runtime }

  name       = var.runtime.name
  vpc_id     = module.network.vpc_id
  vpc_cidr   = module.network.vpc_cidr
  subnet_ids = module.network.private_subnet_ids
  services   = var.runtime.services
  tags       = var.tags

  consul = {
    server_address = var.consul.server_address
    datacenter     = var.consul.datacenter
    partition      = var.runtime.consul_partition
  }

  # Where each upstream runs: the mesh's specification, read from every runtime's folder.
  upstream_partitions = {
    for u in distinct(flatten([for s in var.runtime.services : s.upstreams])) :
    u => module.spec.services[u].partition
    if module.spec.services[u].partition != var.runtime.consul_partition
  }
}

module "spec" {
  source        = "../modules/lab_spec"
  terraform_dir = "${path.root}/.."
}

module "workload_identity" {
  source    = "../modules/workload_identity"
  providers = { aws = aws.runtime }

  name       = var.runtime.name
  issuer_url = var.vault_oidc_issuer
  # shared_services/vault gives each runtime's OIDC role its runtime name as client_id.
  audience = var.runtime.name
  tags     = var.tags
}
