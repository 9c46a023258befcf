# Two PoPs on Vultr bare metal and one on existing metal, one anycast prefix, rendered into an
# inventory. `terraform apply` here, then `meridian-anycast render` and the install of infra/README.md.
terraform {
  required_version = ">= 1.5"
  required_providers {
    vultr = {
      source  = "vultr/vultr"
      version = "~> 2.21"
    }
  }
}

variable "vultr_api_key" {
  description = "Vultr API key (from the environment: TF_VAR_vultr_api_key)."
  type        = string
  sensitive   = true
}

variable "ssh_key_ids" {
  description = "Vultr SSH key ids for the hosts."
  type        = list(string)
}

variable "asn" {
  description = "The anycast network's origin ASN."
  type        = number
  default     = 64512
}

variable "anycast_prefix" {
  description = "The anycast prefix announced from every PoP."
  type        = string
  default     = "198.51.100.0/24"
}

provider "vultr" {
  api_key = var.vultr_api_key
}

module "fra1" {
  source      = "../../modules/vultr_pop"
  pop_name    = "fra1"
  region      = "fra"
  host_count  = 2
  ssh_key_ids = var.ssh_key_ids
  asn         = var.asn
  med         = 10
}

module "ams1" {
  source      = "../../modules/vultr_pop"
  pop_name    = "ams1"
  region      = "ams"
  host_count  = 2
  ssh_key_ids = var.ssh_key_ids
  asn         = var.asn
  med         = 20
  prepend     = 1
}

module "own_metal" {
  source = "../../modules/existing_hosts"
  pop = {
    name = "lab1"
    asn  = var.asn
    med  = 50
    bfd  = true
    peers = [{ name = "core1", address = "10.20.0.1", asn = 65000, description = "lab core router" }]
    hosts = [{ name = "lab1-edge-1", address = "10.20.0.10", interface = "enp65s0f0", workers = 16 }]
  }
}

module "inventory" {
  source           = "../../modules/inventory"
  cluster_name     = "meridian-example"
  anycast_prefixes = [var.anycast_prefix]
  etcd_endpoints   = ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]
  pops             = [module.fra1.pop, module.ams1.pop, module.own_metal.pop]
  control_hosts = [
    { name = "ctl-1", address = "10.0.0.11", services = ["assigner", "auth"] },
    { name = "ctl-2", address = "10.0.0.12", services = ["assigner"] },
  ]
  output_path = "${path.root}/inventory.toml"
}
