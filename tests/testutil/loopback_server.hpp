// A real HTTP server on a free loopback port, inside the test binary, for tests of HTTP clients (VLM servers, the
// Hugging Face Hub). Scripted replies per route, every request recorded, and the faults clients must survive:
// refused connection (closed_port), slow reply, 429 + Retry-After, 5xx then success, a body cut off mid-way.
// Header-only: link ${HTTPLIB_LIBRARY} into the test binary that includes it.
#pragma once
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fresnel::test {

struct RecordedRequest {
  std::string method;
  std::string path;
  std::string query;  // raw "a=1&b=2" ("" when none)
  std::string body;
  httplib::Headers headers;
  std::string header(const std::string& name) const {  // case-insensitive (httplib's map compares so)
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One scripted reply.
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  double delay_s = 0;   // wait this long before answering (a slow server); cut short when the server stops
  long cut_after = -1;  // announce the full Content-Length, send only this many bytes, then drop the connection
  // (httplib answers a "Range: bytes=N-" request itself: reply with the whole body and status 206.)

  static Reply ok(std::string body, std::string type = "application/json") {
    Reply r;
    r.body = std::move(body);
    r.content_type = std::move(type);
    return r;
  }
  static Reply error(int status, std::string body = "") {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = "text/plain";
    return r;
  }
  static Reply too_many_requests(const std::string& retry_after) {
    Reply r = error(429, "rate limited");
    r.headers.emplace_back("Retry-After", retry_after);
    return r;
  }
  static Reply slow(double seconds, std::string body) {
    Reply r = ok(std::move(body));
    r.delay_s = seconds;
    return r;
  }
  static Reply cut_off(std::string body, long bytes_sent) {
    Reply r = ok(std::move(body), "application/octet-stream");
    r.cut_after = bytes_sent;
    return r;
  }
  static Reply redirect(const std::string& location) {
    Reply r = error(302);
    r.headers.emplace_back("Location", location);
    return r;
  }
};

class LoopbackServer {
 public:
  using Handler = std::function<Reply(const RecordedRequest&)>;

  LoopbackServer() {
    // TCP_NODELAY (inherited by accepted sockets): without it Nagle + delayed ACK add ~40 ms to every reply.
    server_.set_socket_options([](socket_t sock) {
      httplib::default_socket_options(sock);
      int yes = 1;
      ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("LoopbackServer: cannot bind a loopback port");
  }
  ~LoopbackServer() { stop(); }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  // Replies to METHOD `path` in order; the last one repeats. Call before start().
  void script(const std::string& method, const std::string& path, std::vector<Reply> replies) {
    auto queue = std::make_shared<std::vector<Reply>>(std::move(replies));
    auto next = std::make_shared<size_t>(0);
    handle(method, path, [this, queue, next](const RecordedRequest&) {
      std::lock_guard<std::mutex> lock(mutex_);
      const size_t i = std::min(*next, queue->size() - 1);
      ++*next;
      return (*queue)[i];
    });
  }

  // A handler that computes the reply from the request (e.g. asserts the JSON it receives). Call before start().
  void handle(const std::string& method, const std::string& path, Handler handler) {
    auto wrapped = [this, method, handler](const httplib::Request& req, httplib::Response& res) {
      RecordedRequest rec{method, req.path, query_of(req.target), req.body, req.headers};
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(rec);
      }
      serve(handler(rec), res);
    };
    if (method == "GET")
      server_.Get(path, wrapped);
    else if (method == "POST")
      server_.Post(path, wrapped);
    else if (method == "PUT")
      server_.Put(path, wrapped);
    else if (method == "DELETE")
      server_.Delete(path, wrapped);
    else
      throw std::invalid_argument("LoopbackServer: unsupported method " + method);
  }

  httplib::Server& raw() { return server_; }  // anything the helpers do not cover

  void start() {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // bind_to_any_port already listens: connections queue in the backlog until the accept loop runs.
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  size_t request_count(const std::string& path = "") const {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t n = 0;
    for (const auto& r : requests_) n += path.empty() || r.path == path;
    return n;
  }

 private:
  static std::string query_of(const std::string& target) {
    size_t q = target.find('?');
    return q == std::string::npos ? "" : target.substr(q + 1);
  }

  void serve(const Reply& reply, httplib::Response& res) {
    if (reply.delay_s > 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, std::chrono::duration<double>(reply.delay_s), [this] { return stopping_; });
    }
    res.status = reply.status;
    for (const auto& [name, value] : reply.headers) res.set_header(name, value);
    if (reply.cut_after >= 0) {
      auto body = std::make_shared<std::string>(reply.body);
      const size_t sent = std::min<size_t>(reply.cut_after, reply.body.size());
      res.set_content_provider(body->size(), reply.content_type,
                               [body, sent](size_t offset, size_t length, httplib::DataSink& sink) {
                                 const size_t n = std::min(sent, length);
                                 if (n > 0) sink.write(body->data() + offset, n);
                                 return false;  // httplib drops the connection mid-body
                               });
    } else {
      res.set_content(reply.body, reply.content_type.c_str());
    }
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<RecordedRequest> requests_;
};

// A loopback port nothing listens on (bound, then closed): connecting to it is refused.
inline int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("closed_port: cannot bind a loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace fresnel::test
