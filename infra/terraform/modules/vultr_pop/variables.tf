variable "pop_name" {
  description = "PoP name (becomes the inventory's pops[].name and a host name prefix)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9_-]{1,32}$", var.pop_name))
    error_message = "pop_name: 1-32 of [a-z0-9_-]."
  }
}

variable "region" {
  description = "Vultr region id (e.g. fra, ams, ewr)."
  type        = string
}

variable "plan" {
  description = "Bare-metal plan id (a NIC with XDP native support: Intel ice/i40e or Mellanox mlx5)."
  type        = string
  default     = "vbm-8c-132gb"
}

variable "os_id" {
  description = "Operating system id (Debian 12 x64)."
  type        = number
  default     = 2136
}

variable "host_count" {
  description = "Edge hosts (each runs meridian-node, BIRD and the health agent) in this PoP."
  type        = number
  default     = 2
  validation {
    condition     = var.host_count >= 1 && var.host_count <= 64
    error_message = "host_count: 1..64."
  }
}

variable "ssh_key_ids" {
  description = "Vultr SSH key ids allowed on the hosts."
  type        = list(string)
}

variable "asn" {
  description = "The anycast network's origin ASN (the same at every PoP)."
  type        = number
}

variable "med" {
  description = "MED this PoP announces with (lower is preferred among PoPs seen through one upstream)."
  type        = number
  default     = null
}

variable "prepend" {
  description = "AS-path prepends (0-8): each makes this PoP less preferred everywhere."
  type        = number
  default     = 0
}

variable "communities" {
  description = "BGP communities to attach (\"asn:value\")."
  type        = list(string)
  default     = []
}

variable "bfd" {
  description = "BFD on the BGP sessions (Vultr's route servers are multihop: leave off there)."
  type        = bool
  default     = false
}

variable "workers" {
  description = "Zone worker threads per node (about the core count minus two)."
  type        = number
  default     = 16
}

variable "capacity_players" {
  description = "Players each node accepts in total."
  type        = number
  default     = 20000
}

variable "game_interface" {
  description = "The NIC game traffic arrives on (XDP attaches here)."
  type        = string
  default     = "enp1s0"
}
