// A terminal chat on a Directus `messages` collection with the C++ wrapper
// (directus_chat.hpp), like examples/c/chat.c: log in, print the history as
// `Name: text`, print new messages as they arrive, send each line you type.
// `/quit` or end of input leaves.
//
//   chat WS_URL EMAIL PASSWORD
//   DCHAT_TOKEN=<static token> chat WS_URL
//
// Events arrive on the library's dispatcher thread (callback mode) while the main
// thread reads stdin; a mutex keeps the two from interleaving their output.
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>

#include "directus_chat.hpp"

int main(int argc, char **argv) {
    const char *url = argc > 1 ? argv[1] : std::getenv("DIRECTUS_WS_URL");
    const char *email = argc > 2 ? argv[2] : std::getenv("DCHAT_EMAIL");
    const char *password = argc > 3 ? argv[3] : std::getenv("DCHAT_PASSWORD");
    const char *token = std::getenv("DCHAT_TOKEN");
    if (!url || (!token && (!email || !password))) {
        std::cerr << "usage: " << argv[0] << " WS_URL EMAIL PASSWORD   (or DCHAT_TOKEN=... " << argv[0] << " WS_URL)\n";
        return 2;
    }

    std::mutex out;
    auto on_event = [&out](const dchat::event &ev) {
        std::lock_guard<std::mutex> lock(out);
        switch (ev.kind) {
        case DCHAT_EVENT_SUBSCRIPTION:
            // init: the history; create: new messages. Updates and deletes are not shown.
            if (ev.sub_event == DCHAT_SUB_INIT || ev.sub_event == DCHAT_SUB_CREATE)
                for (const auto &m : ev.messages) std::cout << m.author.value_or("?") << ": " << m.text << "\n";
            break;
        case DCHAT_EVENT_REPLY:
            if (ev.code) std::cerr << "! not sent: " << ev.text.value_or(*ev.code) << "\n";
            break;
        case DCHAT_EVENT_STATE:
            if (ev.state == DCHAT_STATE_DISCONNECTED) std::cerr << "! disconnected: " << ev.text.value_or("") << "\n";
            break;
        case DCHAT_EVENT_ERROR:
        case DCHAT_EVENT_SUBSCRIPTION_ERROR:
            std::cerr << "! " << ev.text.value_or("error") << "\n";
            break;
        default:
            break;
        }
        std::cout.flush();
    };

    try {
        dchat::client chat(url, on_event);
        if (token) chat.login_token(token);
        else chat.login(email, password);
        dchat::subscription sub = chat.subscribe_chat();

        std::string line;
        while (std::getline(std::cin, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line == "/quit") break;
            if (line.empty()) continue;
            try {
                chat.send(line);
            } catch (const dchat::error &e) {
                std::cerr << "send failed (" << e.code() << "): " << e.what() << "\n";
            }
        }
        // Leaving the scope unsubscribes and closes; sends already on the wire finish.
    } catch (const dchat::error &e) {
        std::cerr << "failed (" << dchat_status_name(e.status()) << ", " << e.code() << "): " << e.what() << "\n";
        return 1;
    }
    return 0;
}
