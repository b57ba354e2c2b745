// Raw IGMP / ICMPv6 sockets for the membership edge.
//
// Why an addon: no npm package exposes recvmsg() with ancillary data, and MLD
// is useless without it (interface, destination, hop limit and the hop-by-hop
// Router Alert arrive only as cmsgs; see PROTOCOLS.md "Receiving and sending
// on Linux"). This file stays small and policy-free: it opens the socket,
// passes setsockopt through, polls the fd with uv_poll, and frames sends. What
// to join, which options to set and what the bytes mean is decided in
// TypeScript (src/native/index.ts, src/membership/live.ts).
//
// IPv4: the kernel hands a raw IPPROTO_IGMP socket the whole IP datagram. The
// header is parsed and stripped HERE, so both families deliver the same shape:
// { payload (IGMP / ICMPv6 message only), from, to, ifindex, ttl, routerAlert }.

#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <linux/mroute.h>
#include <linux/mroute6.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

Napi::Error SysError(Napi::Env env, const char* syscall, int err) {
  std::string msg = std::string(syscall) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("syscall", Napi::String::New(env, syscall));
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

Napi::Buffer<uint8_t> CopyBuffer(Napi::Env env, const void* p, size_t n) {
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(p), n);
}

// Checks the argument kinds ('n' number, 'b' Buffer, 'f' function, 's'
// string, '*' anything); on a mismatch throws a TypeError showing `usage`.
bool Expect(const Napi::CallbackInfo& info, const char* kinds, const char* usage) {
  bool ok = info.Length() >= strlen(kinds);
  for (size_t i = 0; ok && kinds[i] != '\0'; i++) {
    const Napi::Value v = info[i];
    switch (kinds[i]) {
      case 'n': ok = v.IsNumber(); break;
      case 'b': ok = v.IsBuffer(); break;
      case 'f': ok = v.IsFunction(); break;
      case 's': ok = v.IsString(); break;
      default: break;
    }
  }
  if (!ok) Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
  return ok;
}

// RFC 2113 Router Alert in IPv4 options: type 148 (0x94), length 4.
bool Ipv4HasRouterAlert(const uint8_t* opt, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t type = opt[i];
    if (type == 0) break;              // End of Option List
    if (type == 1) { i++; continue; }  // No-Operation
    if (i + 1 >= len) break;
    uint8_t olen = opt[i + 1];
    if (olen < 2 || i + olen > len) break;
    if (type == 0x94 && olen == 4) return true;
    i += olen;
  }
  return false;
}

// RFC 2711 Router Alert in an IPv6 hop-by-hop header: option type 5, length 2.
bool Ipv6HasRouterAlert(const uint8_t* hbh, size_t len) {
  if (len < 2) return false;
  size_t total = (static_cast<size_t>(hbh[1]) + 1) * 8;
  if (total > len) total = len;
  size_t i = 2;
  while (i < total) {
    uint8_t type = hbh[i];
    if (type == 0) { i++; continue; }  // Pad1
    if (i + 1 >= total) break;
    uint8_t olen = hbh[i + 1];
    if (i + 2 + olen > total) break;
    if (type == 5 && olen == 2) return true;
    i += 2 + olen;
  }
  return false;
}

class RawSocket : public Napi::ObjectWrap<RawSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RawSocket", {
      InstanceMethod("setsockopt", &RawSocket::SetSockOpt),
      InstanceMethod("joinGroup", &RawSocket::JoinGroup),
      InstanceMethod("leaveGroup", &RawSocket::LeaveGroup),
      InstanceMethod("send", &RawSocket::Send),
      InstanceMethod("mrouteInit", &RawSocket::MrouteInit),
      InstanceMethod("mrouteAddInterface", &RawSocket::MrouteAddInterface),
      InstanceMethod("close", &RawSocket::Close),
    });
  }

  // new RawSocket(family: 4 | 6, protocol: number, onPacket(err, pkt))
  explicit RawSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RawSocket>(info) {
    Napi::Env env = info.Env();
    if (!Expect(info, "nnf", "RawSocket(family: 4|6, protocol: number, onPacket: function)")) return;
    int fam = info[0].As<Napi::Number>().Int32Value();
    if (fam != 4 && fam != 6) {
      Napi::RangeError::New(env, "family must be 4 or 6").ThrowAsJavaScriptException();
      return;
    }
    family_ = fam == 4 ? AF_INET : AF_INET6;
    int proto = info[1].As<Napi::Number>().Int32Value();
    fd_ = socket(family_, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd_ < 0) {
      SysError(env, "socket", errno).ThrowAsJavaScriptException();
      return;
    }
    onPacket_ = Napi::Persistent(info[2].As<Napi::Function>());
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      ::close(fd_);
      fd_ = -1;
      Napi::Error::New(env, std::string("uv_poll_start: ") + uv_strerror(rc)).ThrowAsJavaScriptException();
      return;
    }
    // The poll keeps this object alive until close(): a socket that is still
    // receiving must not be garbage-collected under the event loop.
    Ref();
  }

  ~RawSocket() override { CloseNow(); }

 private:
  int fd_ = -1;
  int family_ = AF_INET;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference onPacket_;

  void CloseNow() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  bool CheckOpen(Napi::Env env) {
    if (fd_ >= 0) return true;
    SysError(env, "socket", EBADF).ThrowAsJavaScriptException();
    return false;
  }

  // setsockopt(level, name, value: number | Buffer)
  Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env) || !Expect(info, "nn*", "setsockopt(level: number, name: number, value: number | Buffer)")) return env.Undefined();
    int level = info[0].As<Napi::Number>().Int32Value();
    int name = info[1].As<Napi::Number>().Int32Value();
    int rc;
    if (info[2].IsNumber()) {
      int v = info[2].As<Napi::Number>().Int32Value();
      rc = setsockopt(fd_, level, name, &v, sizeof v);
    } else if (info[2].IsBuffer()) {
      auto b = info[2].As<Napi::Buffer<uint8_t>>();
      rc = setsockopt(fd_, level, name, b.Data(), b.Length());
    } else {
      Napi::TypeError::New(env, "setsockopt value must be a number or a Buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (rc < 0) SysError(env, "setsockopt", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP (RFC 3678 protocol-independent API):
  // one call shape for both families, keyed by interface index.
  Napi::Value Membership(const Napi::CallbackInfo& info, int op) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env) || !Expect(info, "bn", "joinGroup(group: Buffer(4|16), ifindex: number)")) return env.Undefined();
    auto g = info[0].As<Napi::Buffer<uint8_t>>();
    struct group_req req;
    memset(&req, 0, sizeof req);
    req.gr_interface = info[1].As<Napi::Number>().Uint32Value();
    int level;
    if (family_ == AF_INET && g.Length() == 4) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&req.gr_group);
      sin->sin_family = AF_INET;
      memcpy(&sin->sin_addr, g.Data(), 4);
      level = IPPROTO_IP;
    } else if (family_ == AF_INET6 && g.Length() == 16) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&req.gr_group);
      sin6->sin6_family = AF_INET6;
      memcpy(&sin6->sin6_addr, g.Data(), 16);
      level = IPPROTO_IPV6;
    } else {
      Napi::RangeError::New(env, "group address length does not match the socket family").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (setsockopt(fd_, level, op, &req, sizeof req) < 0) {
      SysError(env, op == MCAST_JOIN_GROUP ? "setsockopt(MCAST_JOIN_GROUP)" : "setsockopt(MCAST_LEAVE_GROUP)", errno)
          .ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }
  // MRT_INIT / MRT6_INIT: become the multicast routing socket of this
  // namespace's default table, so IGMPv1/v2 and MLDv1 reports sent to
  // arbitrary groups reach us (PROTOCOLS.md §1). One per table: fails with
  // EADDRINUSE when smcroute, igmpproxy or FRR already holds it.
  Napi::Value MrouteInit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    int one = 1;
    int rc = family_ == AF_INET ? setsockopt(fd_, IPPROTO_IP, MRT_INIT, &one, sizeof one)
                                : setsockopt(fd_, IPPROTO_IPV6, MRT6_INIT, &one, sizeof one);
    if (rc < 0) SysError(env, family_ == AF_INET ? "setsockopt(MRT_INIT)" : "setsockopt(MRT6_INIT)", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // mrouteAddInterface(vif: number, ifindex: number): MRT_ADD_VIF by
  // interface index (VIFF_USE_IFINDEX) / MRT6_ADD_MIF. The kernel marks the
  // interface as multicast-forwarding, which is what routes IGMP for
  // arbitrary groups to the routing socket.
  Napi::Value MrouteAddInterface(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env) || !Expect(info, "nn", "mrouteAddInterface(vif: number, ifindex: number)")) return env.Undefined();
    unsigned vif = info[0].As<Napi::Number>().Uint32Value();
    int ifindex = info[1].As<Napi::Number>().Int32Value();
    int rc;
    if (family_ == AF_INET) {
      struct vifctl vc;
      memset(&vc, 0, sizeof vc);
      vc.vifc_vifi = static_cast<vifi_t>(vif);
      vc.vifc_flags = VIFF_USE_IFINDEX;
      vc.vifc_threshold = 1;
      vc.vifc_lcl_ifindex = ifindex;
      rc = setsockopt(fd_, IPPROTO_IP, MRT_ADD_VIF, &vc, sizeof vc);
    } else {
      struct mif6ctl mc;
      memset(&mc, 0, sizeof mc);
      mc.mif6c_mifi = static_cast<mifi_t>(vif);
      mc.vifc_threshold = 1;
      mc.mif6c_pifi = static_cast<uint16_t>(ifindex);
      rc = setsockopt(fd_, IPPROTO_IPV6, MRT6_ADD_MIF, &mc, sizeof mc);
    }
    if (rc < 0) SysError(env, family_ == AF_INET ? "setsockopt(MRT_ADD_VIF)" : "setsockopt(MRT6_ADD_MIF)", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  Napi::Value JoinGroup(const Napi::CallbackInfo& info) { return Membership(info, MCAST_JOIN_GROUP); }
  Napi::Value LeaveGroup(const Napi::CallbackInfo& info) { return Membership(info, MCAST_LEAVE_GROUP); }

  // send(payload: Buffer, to: Buffer(4|16), ifindex: number, from: Buffer(4|16)) -> bytes sent
  //
  // Framing per RFC 9776 §4 / RFC 9777 §5: hop limit 1 and Router Alert. IPv4
  // gets its Router Alert from IP_OPTIONS and TTL/TOS from socket options set
  // by the caller; here IP_PKTINFO picks the outgoing interface and source.
  // IPv6 gets the hop-by-hop Router Alert (value 0 = MLD, RFC 2711), the
  // link-local source and interface (IPV6_PKTINFO) and hop limit 1 per message.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env) || !Expect(info, "bbnb", "send(payload: Buffer, to: Buffer, ifindex: number, from: Buffer)")) return env.Undefined();
    auto payload = info[0].As<Napi::Buffer<uint8_t>>();
    auto to = info[1].As<Napi::Buffer<uint8_t>>();
    unsigned ifindex = info[2].As<Napi::Number>().Uint32Value();
    auto from = info[3].As<Napi::Buffer<uint8_t>>();
    size_t alen = family_ == AF_INET ? 4 : 16;
    if (to.Length() != alen || from.Length() != alen) {
      Napi::RangeError::New(env, "address length does not match the socket family").ThrowAsJavaScriptException();
      return env.Undefined();
    }

    struct iovec iov = {payload.Data(), payload.Length()};
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(8) + CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    sockaddr_in sin;
    sockaddr_in6 sin6;
    cmsghdr* c;

    if (family_ == AF_INET) {
      memset(&sin, 0, sizeof sin);
      sin.sin_family = AF_INET;
      memcpy(&sin.sin_addr, to.Data(), 4);
      msg.msg_name = &sin;
      msg.msg_namelen = sizeof sin;
      msg.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
      c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo pi;
      memset(&pi, 0, sizeof pi);
      pi.ipi_ifindex = static_cast<int>(ifindex);
      memcpy(&pi.ipi_spec_dst, from.Data(), 4);
      memcpy(CMSG_DATA(c), &pi, sizeof pi);
    } else {
      memset(&sin6, 0, sizeof sin6);
      sin6.sin6_family = AF_INET6;
      memcpy(&sin6.sin6_addr, to.Data(), 16);
      sin6.sin6_scope_id = ifindex;
      msg.msg_name = &sin6;
      msg.msg_namelen = sizeof sin6;
      msg.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(8) + CMSG_SPACE(sizeof(int));
      c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
      in6_pktinfo pi;
      memset(&pi, 0, sizeof pi);
      pi.ipi6_ifindex = ifindex;
      memcpy(&pi.ipi6_addr, from.Data(), 16);
      memcpy(CMSG_DATA(c), &pi, sizeof pi);

      // Hop-by-hop header, 8 bytes: next header (kernel fills), length 0
      // (= 8 bytes), Router Alert (type 5, len 2, value 0 = MLD), PadN (1, 0).
      c = CMSG_NXTHDR(&msg, c);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_HOPOPTS;
      c->cmsg_len = CMSG_LEN(8);
      const uint8_t hbh[8] = {0, 0, 5, 2, 0, 0, 1, 0};
      memcpy(CMSG_DATA(c), hbh, 8);

      c = CMSG_NXTHDR(&msg, c);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_HOPLIMIT;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      int hops = 1;
      memcpy(CMSG_DATA(c), &hops, sizeof hops);
    }

    ssize_t n = sendmsg(fd_, &msg, 0);
    if (n < 0) {
      SysError(env, "sendmsg", errno).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, static_cast<double>(n));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    bool wasOpen = fd_ >= 0;
    CloseNow();
    if (wasOpen) {
      onPacket_.Reset();
      Unref();
    }
    return info.Env().Undefined();
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<RawSocket*>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      self->Deliver(env, Napi::Error::New(env, std::string("uv_poll: ") + uv_strerror(status)).Value(), env.Undefined());
      return;
    }
    // Drain what is queued now, but yield to the loop after a burst so that a
    // flood on one socket cannot starve timers and the other socket.
    for (int i = 0; i < 64 && self->fd_ >= 0; i++) {
      if (!self->ReadOne(env)) break;
    }
  }

  void Deliver(Napi::Env env, Napi::Value err, Napi::Value pkt) {
    if (onPacket_.IsEmpty()) return;
    try {
      onPacket_.MakeCallback(Value(), {err, pkt});
    } catch (const Napi::Error& e) {
      // A throwing handler is the owner's bug: surface it as an uncaught
      // exception instead of swallowing it here.
      napi_fatal_exception(env, e.Value());
    }
  }

  // Returns false when nothing more is queued (or the socket failed).
  bool ReadOne(Napi::Env env) {
    uint8_t buf[65536];
    alignas(cmsghdr) uint8_t control[512];
    sockaddr_storage src;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &src;
    msg.msg_namelen = sizeof src;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_, &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
      Deliver(env, SysError(env, "recvmsg", errno).Value(), env.Undefined());
      return false;
    }

    const uint8_t* payload = buf;
    size_t plen = static_cast<size_t>(n);
    Napi::Object pkt = Napi::Object::New(env);
    int ifindex = 0;
    int ttl = -1;
    bool routerAlert = false;
    bool truncated = (msg.msg_flags & MSG_TRUNC) != 0;

    if (family_ == AF_INET) {
      // RFC 791 header: IHL in 32-bit words, TTL at 8, source 12, destination 16.
      if (plen >= 20 && buf[9] == 0) {
        // struct igmpmsg from the multicast routing code (a cache-miss
        // upcall, protocol byte 0), not a datagram: only a routing daemon
        // wants it.
        pkt.Set("error", Napi::String::New(env, "multicast routing upcall"));
        pkt.Set("payload", Napi::Buffer<uint8_t>::New(env, 0));
        Deliver(env, env.Null(), pkt);
        return true;
      }
      if (plen < 20 || (buf[0] >> 4) != 4 || (buf[0] & 0x0f) < 5 || static_cast<size_t>(buf[0] & 0x0f) * 4 > plen) {
        pkt.Set("error", Napi::String::New(env, "IPv4 header shorter than its IHL"));
        pkt.Set("payload", CopyBuffer(env, buf, plen));
        Deliver(env, env.Null(), pkt);
        return true;
      }
      size_t ihl = static_cast<size_t>(buf[0] & 0x0f) * 4;
      size_t total = (static_cast<size_t>(buf[2]) << 8) | buf[3];
      ttl = buf[8];
      routerAlert = Ipv4HasRouterAlert(buf + 20, ihl - 20);
      pkt.Set("from", CopyBuffer(env, buf + 12, 4));
      pkt.Set("to", CopyBuffer(env, buf + 16, 4));
      // The kernel may report total length in host order or trimmed; trust
      // the smaller of it and what actually arrived.
      if (total >= ihl && total < plen) plen = total;
      payload = buf + ihl;
      plen -= ihl;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo pi;
          memcpy(&pi, CMSG_DATA(c), sizeof pi);
          ifindex = pi.ipi_ifindex;
        }
      }
    } else {
      if (plen > 0 && buf[0] == 0) {
        // struct mrt6msg from the IPv6 multicast routing code (im6_mbz 0;
        // ICMPv6 type 0 is reserved): it bypasses ICMP6_FILTER.
        pkt.Set("error", Napi::String::New(env, "multicast routing upcall"));
        pkt.Set("payload", Napi::Buffer<uint8_t>::New(env, 0));
        Deliver(env, env.Null(), pkt);
        return true;
      }
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&src);
      pkt.Set("from", CopyBuffer(env, &sin6->sin6_addr, 16));
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        size_t dlen = c->cmsg_len - CMSG_LEN(0);
        if (c->cmsg_type == IPV6_PKTINFO && dlen >= sizeof(in6_pktinfo)) {
          in6_pktinfo pi;
          memcpy(&pi, CMSG_DATA(c), sizeof pi);
          ifindex = static_cast<int>(pi.ipi6_ifindex);
          pkt.Set("to", CopyBuffer(env, &pi.ipi6_addr, 16));
        } else if (c->cmsg_type == IPV6_HOPLIMIT && dlen >= sizeof(int)) {
          memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
        } else if (c->cmsg_type == IPV6_HOPOPTS) {
          routerAlert = Ipv6HasRouterAlert(CMSG_DATA(c), dlen);
        }
      }
      if (!pkt.Has("to")) pkt.Set("to", env.Null());
    }
    pkt.Set("payload", CopyBuffer(env, payload, plen));
    pkt.Set("ifindex", Napi::Number::New(env, ifindex));
    pkt.Set("ttl", Napi::Number::New(env, ttl));
    pkt.Set("routerAlert", Napi::Boolean::New(env, routerAlert));
    if (truncated) pkt.Set("error", Napi::String::New(env, "datagram truncated"));
    Deliver(env, env.Null(), pkt);
    return true;
  }
};

Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Expect(info, "s", "ifNameToIndex(name: string)")) return env.Undefined();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) {
    SysError(env, "if_nametoindex", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, idx);
}

// interfaceAddresses(name) -> [{ family: 4|6, address: Buffer }] in kernel
// order (the primary IPv4 address first). getifaddrs() itself: Node's
// os.networkInterfaces() leaves out interfaces without carrier, and the
// headend must know its own addresses on a link that is still down.
Napi::Value InterfaceAddresses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Expect(info, "s", "interfaceAddresses(name: string)")) return env.Undefined();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) < 0) {
    SysError(env, "getifaddrs", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (struct ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || name != a->ifa_name) continue;
    Napi::Object o = Napi::Object::New(env);
    if (a->ifa_addr->sa_family == AF_INET) {
      o.Set("family", Napi::Number::New(env, 4));
      o.Set("address", CopyBuffer(env, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, 4));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      o.Set("family", Napi::Number::New(env, 6));
      o.Set("address", CopyBuffer(env, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, 16));
    } else {
      continue;
    }
    out.Set(n++, o);
  }
  freeifaddrs(list);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("RawSocket", RawSocket::Init(env));
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex));
  exports.Set("interfaceAddresses", Napi::Function::New(env, InterfaceAddresses));
  // Linux values, so that TypeScript never hard-codes them.
  Napi::Object k = Napi::Object::New(env);
  auto def = [&](const char* name, int v) { k.Set(name, Napi::Number::New(env, v)); };
  def("IPPROTO_IP", IPPROTO_IP);
  def("IPPROTO_IPV6", IPPROTO_IPV6);
  def("IPPROTO_IGMP", IPPROTO_IGMP);
  def("IPPROTO_ICMPV6", IPPROTO_ICMPV6);
  def("IP_PKTINFO", IP_PKTINFO);
  def("IP_RECVTTL", IP_RECVTTL);
  def("IP_OPTIONS", IP_OPTIONS);
  def("IP_TOS", IP_TOS);
  def("IP_MULTICAST_IF", IP_MULTICAST_IF);
  def("IP_MULTICAST_TTL", IP_MULTICAST_TTL);
  def("IP_MULTICAST_LOOP", IP_MULTICAST_LOOP);
  def("IP_ADD_MEMBERSHIP", IP_ADD_MEMBERSHIP);
  def("IPV6_RECVPKTINFO", IPV6_RECVPKTINFO);
  def("IPV6_RECVHOPLIMIT", IPV6_RECVHOPLIMIT);
  def("IPV6_RECVHOPOPTS", IPV6_RECVHOPOPTS);
  def("IPV6_MULTICAST_IF", IPV6_MULTICAST_IF);
  def("IPV6_MULTICAST_HOPS", IPV6_MULTICAST_HOPS);
  def("IPV6_MULTICAST_LOOP", IPV6_MULTICAST_LOOP);
  def("IPV6_ADD_MEMBERSHIP", IPV6_ADD_MEMBERSHIP);
  def("ICMP6_FILTER", ICMP6_FILTER);
  def("SOL_SOCKET", SOL_SOCKET);
  def("SO_RCVBUF", SO_RCVBUF);
  def("SO_BINDTODEVICE", SO_BINDTODEVICE);
  def("MRT_INIT", MRT_INIT);
  def("MRT6_INIT", MRT6_INIT);
  exports.Set("constants", k);
  return exports;
}

}  // namespace

NODE_API_MODULE(rawsock, Init)
