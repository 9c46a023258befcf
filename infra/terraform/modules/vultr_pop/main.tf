# One PoP on Vultr bare metal. Vultr runs BGP for customer prefixes from every location (enabled per
# account with the ASN and the prefixes after a LOA; that step is manual, not an API): each host peers
# with Vultr's route server at 169.254.169.254, AS 64515, eBGP multihop 2, and announces the anycast
# prefix. Chosen because it is one of the few bare-metal providers with both a maintained Terraform
# provider and self-service BGP announcements of a customer prefix at many locations.

resource "vultr_bare_metal_server" "edge" {
  count       = var.host_count
  region      = var.region
  plan        = var.plan
  os_id       = var.os_id
  label       = "${var.pop_name}-edge-${count.index + 1}"
  hostname    = "${var.pop_name}-edge-${count.index + 1}"
  ssh_key_ids = var.ssh_key_ids
  enable_ipv6 = true
  tags        = ["meridian", "edge", var.pop_name]
  # The node, BIRD and the agent are installed from the rendered inventory (infra/README.md), not
  # by cloud-init: one path for provider hosts and existing hosts.
}

locals {
  hosts = [
    for server in vultr_bare_metal_server.edge : {
      name             = server.label
      address          = server.main_ip
      interface        = var.game_interface
      workers          = var.workers
      capacity_players = var.capacity_players
    }
  ]
  pop = {
    name        = var.pop_name
    asn         = var.asn
    med         = var.med
    prepend     = var.prepend
    communities = var.communities
    bfd         = var.bfd
    peers = [{
      name        = "vultr_rs"
      address     = "169.254.169.254"
      asn         = 64515
      description = "Vultr route server, ${var.region}"
      multihop    = 2
    }]
    hosts = local.hosts
  }
}
