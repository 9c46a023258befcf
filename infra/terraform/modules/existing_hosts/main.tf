# For teams with their own metal: no provider, the hosts are given; the module only shapes them
# into the inventory's pops[] entry, so the rest of the path (render, install) is the same.

variable "pop" {
  description = "The PoP: name, asn, med, prepend, communities, bfd, peers[] (name, address, asn, description, multihop) and hosts[] (name, address, interface, workers, capacity_players)."
  type = object({
    name        = string
    asn         = number
    med         = optional(number)
    prepend     = optional(number, 0)
    communities = optional(list(string), [])
    bfd         = optional(bool, false)
    peers = list(object({
      name        = string
      address     = string
      asn         = number
      description = optional(string, "")
      multihop    = optional(number)
    }))
    hosts = list(object({
      name             = string
      address          = string
      interface        = string
      workers          = optional(number, 8)
      capacity_players = optional(number, 8000)
    }))
  })
  validation {
    condition     = length(var.pop.peers) > 0 && length(var.pop.hosts) > 0
    error_message = "A PoP needs at least one BGP peer and one host."
  }
}

output "pop" {
  description = "The PoP as the inventory's pops[] entry."
  value       = var.pop
}
