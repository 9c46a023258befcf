terraform {
  required_version = ">= 1.5"
  required_providers {
    local = {
      source  = "hashicorp/local"
      version = "~> 2.5"
    }
  }
}

variable "cluster_name" {
  description = "Cluster name (inventory cluster.name)."
  type        = string
}

variable "anycast_prefixes" {
  description = "The anycast VIP prefixes every PoP announces (IPv4 CIDR)."
  type        = list(string)
  validation {
    condition     = alltrue([for p in var.anycast_prefixes : can(cidrnetmask(p))])
    error_message = "anycast_prefixes: IPv4 CIDRs."
  }
}

variable "etcd_endpoints" {
  description = "etcd client URLs of the control plane."
  type        = list(string)
}

variable "pops" {
  description = "The PoPs (outputs of vultr_pop or existing_hosts)."
  type        = list(any)
}

variable "control_hosts" {
  description = "Control-plane hosts: name, address, services (assigner, auth)."
  type = list(object({
    name     = string
    address  = string
    services = list(string)
  }))
  default = []
}

variable "output_path" {
  description = "Where to write the inventory TOML (then: meridian-anycast render --inventory <this>)."
  type        = string
}

resource "local_file" "inventory" {
  filename        = var.output_path
  file_permission = "0644"
  content = templatefile("${path.module}/inventory.toml.tftpl", {
    cluster_name     = var.cluster_name
    anycast_prefixes = var.anycast_prefixes
    etcd_endpoints   = var.etcd_endpoints
    pops             = var.pops
    control_hosts    = var.control_hosts
  })
}

output "inventory_path" {
  description = "The inventory file written."
  value       = local_file.inventory.filename
}
