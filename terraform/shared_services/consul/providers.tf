# The Consul servers (HCP Consul or self-managed) of the shared-services account. The ACL
# token comes from CONSUL_HTTP_TOKEN, never from a file.
provider "consul" {
  address    = var.consul_address
  datacenter = var.datacenter
}
